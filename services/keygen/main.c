/* main.c — as-keygen: make the CURVE key pairs of the programs and the allow-list.
 *
 *   as-keygen DIR NAME...
 *
 * For each NAME without a key yet it writes DIR/NAME.key (public and secret key, z85, mode 600)
 * and DIR/NAME.pub (public key), then rewrites DIR/allowed with `NAME public-key` for every key
 * in DIR. Existing keys are kept, so running it again changes nothing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

static int write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    return close(fd) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: as-keygen DIR NAME...\n");
        return 2;
    }
    const char *dir = argv[1];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "as-keygen: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        char path[1024], text[128];
        snprintf(path, sizeof path, "%s/%s.key", dir, argv[i]);
        if (access(path, F_OK) == 0)
            continue;
        char pub[41], sec[41];
        if (zmq_curve_keypair(pub, sec) != 0) {
            fprintf(stderr, "as-keygen: this libzmq cannot make CURVE keys\n");
            return 1;
        }
        snprintf(text, sizeof text, "%s\n%s\n", pub, sec);
        if (write_file(path, text, 0600) != 0) {
            fprintf(stderr, "as-keygen: cannot write %s\n", path);
            return 1;
        }
        snprintf(path, sizeof path, "%s/%s.pub", dir, argv[i]);
        snprintf(text, sizeof text, "%s\n", pub);
        if (write_file(path, text, 0644) != 0) {
            fprintf(stderr, "as-keygen: cannot write %s\n", path);
            return 1;
        }
    }
    /* The allow-list: every key pair in the directory. */
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    char list[16384] = "# programs whose CURVE keys the services accept (made by as-keygen)\n";
    size_t off = strlen(list);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".pub") != 0)
            continue;
        char path[1024], pub[64] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f || !fgets(pub, sizeof pub, f)) {
            if (f)
                fclose(f);
            continue;
        }
        fclose(f);
        pub[strcspn(pub, "\n")] = '\0';
        if (off < sizeof list)
            off += (size_t)snprintf(list + off, sizeof list - off, "%.*s %s\n", (int)(n - 4),
                                    e->d_name, pub);
    }
    closedir(d);
    char path[1024];
    snprintf(path, sizeof path, "%s/allowed", dir);
    if (write_file(path, list, 0644) != 0) {
        fprintf(stderr, "as-keygen: cannot write %s\n", path);
        return 1;
    }
    return 0;
}
