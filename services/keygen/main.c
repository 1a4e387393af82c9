/* main.c — as-keygen: make the CURVE key pairs of the programs and the allow-list.
 *
 *   as-keygen DIR NAME[:reads=STREAM,...]...
 *
 * For each NAME without a key yet it writes DIR/NAME.key (public and secret key, z85, mode 600)
 * and DIR/NAME.pub (public key), then rewrites DIR/allowed with a line `NAME public-key` for
 * each NAME given — exactly those, whatever other key files DIR holds, so a key made once for a
 * test stack never lingers on a production allow-list. `:reads=...` (test and bench stacks only)
 * lets a tool key subscribe to / replay the streams listed (`*`: all). Existing keys are kept,
 * so running it again changes nothing. There is no size limit; any failure is an error. */
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
        size_t nlen = strcspn(argv[i], ":");
        const char *grant = argv[i][nlen] == ':' ? argv[i] + nlen + 1 : NULL;
        int ok = nlen >= 1 && nlen <= 31;
        for (size_t k = 0; ok && k < nlen; k++) {
            char c = argv[i][k];
            ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                 c == '.';
        }
        if (!ok ||
            (grant && (strncmp(grant, "reads=", 6) != 0 || !grant[6] || strpbrk(grant, " \t\n")))) {
            fprintf(
                stderr,
                "as-keygen: '%s' is not NAME[:reads=STREAM,...] (NAME: 1..31 of a-z 0-9 _ - .)\n",
                argv[i]);
            return 2;
        }
    }
    for (int i = 2; i < argc; i++) {
        char name[32], path[1024], text[128];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(argv[i], ":"), argv[i]);
        snprintf(path, sizeof path, "%s/%s.key", dir, name);
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
        snprintf(path, sizeof path, "%s/%s.pub", dir, name);
        snprintf(text, sizeof text, "%s\n", pub);
        if (write_file(path, text, 0644) != 0) {
            fprintf(stderr, "as-keygen: cannot write %s\n", path);
            return 1;
        }
    }
    /* The allow-list: the programs named, each with its public key. Written to a temporary file
     * and renamed, so a reader never sees half of it. */
    char tmp[1024], path[1024];
    snprintf(tmp, sizeof tmp, "%s/allowed.tmp", dir);
    snprintf(path, sizeof path, "%s/allowed", dir);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "as-keygen: cannot write %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    int ok =
        fprintf(out, "# programs whose CURVE keys the services accept (made by as-keygen)\n") > 0;
    for (int i = 2; ok && i < argc; i++) {
        char name[32], pub[64] = "", kpath[1024];
        size_t nlen = strcspn(argv[i], ":");
        snprintf(name, sizeof name, "%.*s", (int)nlen, argv[i]);
        snprintf(kpath, sizeof kpath, "%s/%s.pub", dir, name);
        FILE *f = fopen(kpath, "r");
        if (!f || !fgets(pub, sizeof pub, f)) {
            fprintf(stderr, "as-keygen: cannot read %s\n", kpath);
            if (f)
                fclose(f);
            ok = 0;
            break;
        }
        fclose(f);
        pub[strcspn(pub, "\n")] = '\0';
        if (strlen(pub) != 40) {
            fprintf(stderr, "as-keygen: %s does not hold a z85 key of 40 characters\n", kpath);
            ok = 0;
            break;
        }
        ok = fprintf(out, "%s %s%s%s\n", name, pub, argv[i][nlen] ? " " : "",
                     argv[i][nlen] ? argv[i] + nlen + 1 : "") > 0;
    }
    if (fclose(out) != 0)
        ok = 0;
    if (!ok || chmod(tmp, 0644) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "as-keygen: cannot write %s\n", path);
        unlink(tmp);
        return 1;
    }
    return 0;
}
