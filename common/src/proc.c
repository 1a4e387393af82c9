/* proc.c — this process's own figures from /proc/self (as/proc.h). */
#include "as/proc.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void as_proc_read(as_proc_t *p)
{
    memset(p, 0, sizeof *p);
    long hz = sysconf(_SC_CLK_TCK);
    double tick = (double)(hz > 0 ? hz : 100);
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        const char *s = strrchr(buf, ')'); /* the command name may hold spaces */
        unsigned long long ut = 0, st = 0, starttime = 0;
        if (s && sscanf(s + 2,
                        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                        "%*d %*d %llu",
                        &ut, &st, &starttime) == 3) {
            p->cpu_s = (double)(ut + st) / tick;
            struct timespec now, up;
            clock_gettime(CLOCK_REALTIME, &now);
            clock_gettime(CLOCK_BOOTTIME, &up);
            p->start_s = (double)now.tv_sec - (double)up.tv_sec + (double)starttime / tick;
        }
    }
    long pages = 0;
    f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%*d %ld", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    p->rss_bytes = (double)pages * (double)sysconf(_SC_PAGESIZE);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        unsigned k = 0;
        for (struct dirent *e; (e = readdir(d));)
            k += e->d_name[0] != '.';
        closedir(d);
        p->fds = k ? k - 1 : 0; /* opendir's own */
    }
}
