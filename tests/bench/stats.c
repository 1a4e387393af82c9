/* stats.c — latency samples, a small hash map, CPU and memory of the stack's processes from
 * /proc, and a description of the machine. */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- latency ---- */

void lat_add(lat_t *l, int64_t ns)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    int64_t us = ns / 1000;
    l->v[l->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    l->sorted = 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

double lat_pct(lat_t *l, double p)
{
    if (l->n == 0)
        return 0;
    if (!l->sorted) {
        qsort(l->v, l->n, sizeof *l->v, cmp_u32);
        l->sorted = 1;
    }
    size_t rank = (size_t)(p / 100.0 * (double)l->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > l->n)
        rank = l->n;
    return l->v[rank - 1] / 1000.0;
}

double lat_mean(const lat_t *l)
{
    if (l->n == 0)
        return 0;
    double s = 0;
    for (size_t i = 0; i < l->n; i++)
        s += l->v[i];
    return s / (double)l->n / 1000.0;
}

void lat_free(lat_t *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- hash map (linear probing, backward-shift deletion) ---- */

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int hm_init(hmap_t *h, uint32_t cap)
{
    memset(h, 0, sizeof *h);
    h->cap = cap;
    h->key = calloc(cap, sizeof *h->key);
    h->val = calloc(cap, sizeof *h->val);
    h->used = calloc(cap, 1);
    return h->key && h->val && h->used ? 0 : -1;
}

static int64_t hm_find(const hmap_t *h, const char *key)
{
    uint32_t m = h->cap - 1;
    for (uint32_t i = hash_str(key) & m;; i = (i + 1) & m) {
        if (!h->used[i])
            return -1;
        if (strcmp(h->key[i], key) == 0)
            return i;
    }
}

int64_t *hm_get(hmap_t *h, const char *key)
{
    int64_t i = hm_find(h, key);
    return i < 0 ? NULL : &h->val[i];
}

int hm_put(hmap_t *h, const char *key, int64_t val)
{
    int64_t *p = hm_get(h, key);
    if (p) {
        *p = val;
        return 0;
    }
    if (h->n + 1 > h->cap / 4 * 3 || strlen(key) >= sizeof h->key[0])
        return -1;
    uint32_t m = h->cap - 1, i = hash_str(key) & m;
    while (h->used[i])
        i = (i + 1) & m;
    h->used[i] = 1;
    snprintf(h->key[i], sizeof h->key[i], "%s", key);
    h->val[i] = val;
    h->n++;
    return 0;
}

int hm_del(hmap_t *h, const char *key)
{
    int64_t f = hm_find(h, key);
    if (f < 0)
        return -1;
    uint32_t m = h->cap - 1, i = (uint32_t)f, j = i;
    h->used[i] = 0;
    h->n--;
    for (;;) {
        j = (j + 1) & m;
        if (!h->used[j])
            return 0;
        uint32_t k = hash_str(h->key[j]) & m; /* home slot of the entry at j */
        /* Move it into the hole at i unless its home lies cyclically in (i, j]. */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        memcpy(h->key[i], h->key[j], sizeof h->key[i]);
        h->val[i] = h->val[j];
        h->used[i] = 1;
        h->used[j] = 0;
        i = j;
    }
}

void hm_clear(hmap_t *h)
{
    memset(h->used, 0, h->cap);
    h->n = 0;
}

void hm_free(hmap_t *h)
{
    free(h->key);
    free(h->val);
    free(h->used);
    memset(h, 0, sizeof *h);
}

/* ---- processes ---- */

static const char *const PROGRAMS[] = {"intake",     "warranty", "parts",
                                       "settlement", "surveys",  "gateway"};
#define N_PROGRAMS (int)(sizeof PROGRAMS / sizeof PROGRAMS[0])

static char g_var[512];
static int g_pg_pid;

void procs_setup(const char *var, int pg_pid)
{
    snprintf(g_var, sizeof g_var, "%s", var ? var : "");
    g_pg_pid = pg_pid;
}

static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

static int program_pid(const char *name)
{
    char path[700], buf[32];
    snprintf(path, sizeof path, "%s/run/%s.pid", g_var, name);
    if (read_file(path, buf, sizeof buf) <= 0)
        return 0;
    int pid = atoi(buf);
    /* The pid must still be that program. */
    char comm[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    if (pid <= 0 || read_file(path, comm, sizeof comm) <= 0)
        return 0;
    comm[strcspn(comm, "\n")] = '\0';
    char want[40];
    snprintf(want, sizeof want, "as-%s", name);
    return strncmp(comm, want, 15) == 0 ? pid : 0;
}

/* utime + stime in clock ticks and the parent pid, from /proc/<pid>/stat. */
static int proc_stat(int pid, uint64_t *ticks, int *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (read_file(path, buf, sizeof buf) <= 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* After ") ": state(3) ppid(4) ... utime(14) stime(15). */
    unsigned long long ut = 0, st = 0;
    int pp = 0;
    char state;
    if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &pp, &ut,
               &st) != 4)
        return -1;
    *ticks = ut + st;
    if (ppid)
        *ppid = pp;
    return 0;
}

#define SNAP_MAX 512
struct cpu_snap {
    int n;
    struct {
        int pid;
        char group[40];
        uint64_t ticks;
    } p[SNAP_MAX];
    uint64_t busy, iowait, all; /* /proc/stat, all CPUs, ticks */
    double self_s;
    int64_t t_ns;
};

static void snap_add(cpu_snap_t *s, int pid, const char *group)
{
    uint64_t t;
    if (s->n >= SNAP_MAX || proc_stat(pid, &t, NULL) < 0)
        return;
    s->p[s->n].pid = pid;
    snprintf(s->p[s->n].group, sizeof s->p[s->n].group, "%s", group);
    s->p[s->n].ticks = t;
    s->n++;
}

/* The group of a postgres child from its title: "postgres: as_intake aftersales 127.0.0.1(4242)
 * idle" -> "postgres:intake"; "postgres: postgres pgbench ..." -> "postgres:pgbench"; the
 * walwriter, checkpointer and other background processes -> "postgres:background". */
static void pg_group(int pid, char *out, size_t len)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    int n = read_file(path, buf, sizeof buf);
    snprintf(out, len, "postgres:background");
    if (n <= 0 || strncmp(buf, "postgres: ", 10) != 0)
        return;
    char user[64] = "", db[64] = "", addr[64] = "";
    if (sscanf(buf + 10, "%63s %63s %63s", user, db, addr) < 3)
        return;
    if (strncmp(addr, "127.", 4) != 0 && strncmp(addr, "[local]", 7) != 0 &&
        strncmp(addr, "::1", 3) != 0)
        return; /* not a client backend */
    if (strncmp(user, "as_", 3) == 0)
        snprintf(out, len, "postgres:%.24s", user + 3);
    else if (strcmp(db, "pgbench") == 0)
        snprintf(out, len, "postgres:pgbench");
    else if (strcmp(user, "postgres") == 0 && strcmp(db, "aftersales") == 0)
        snprintf(out, len, "postgres:as-bench-sampler"); /* waits.c's connections */
    else
        snprintf(out, len, "postgres:other-clients");
}

cpu_snap_t *cpu_snap_take(void)
{
    cpu_snap_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t_ns = bench_now_ns();
    for (int i = 0; i < N_PROGRAMS; i++) {
        int pid = program_pid(PROGRAMS[i]);
        char g[40];
        snprintf(g, sizeof g, "as-%s", PROGRAMS[i]);
        if (pid > 0)
            snap_add(s, pid, g);
    }
    if (g_pg_pid > 0) {
        snap_add(s, g_pg_pid, "postgres:background");
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            uint64_t t;
            int ppid;
            if (pid <= 0 || proc_stat(pid, &t, &ppid) < 0 || ppid != g_pg_pid)
                continue;
            char g[40];
            pg_group(pid, g, sizeof g);
            snap_add(s, pid, g);
        }
        if (d)
            closedir(d);
    }
    char buf[512];
    if (read_file("/proc/stat", buf, sizeof buf) > 0) {
        unsigned long long v[10] = {0};
        sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]);
        s->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        s->iowait = v[4];
        s->all = s->busy + v[3] + v[4];
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    s->self_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6;
    return s;
}

void cpu_usage_between(const cpu_snap_t *a, const cpu_snap_t *b, cpu_usage_t *out)
{
    memset(out, 0, sizeof *out);
    double dt = (b->t_ns - a->t_ns) / 1e9;
    if (dt <= 0)
        return;
    double tck = (double)sysconf(_SC_CLK_TCK);
    double ours = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t before = 0;
        for (int j = 0; j < a->n; j++)
            if (a->p[j].pid == b->p[i].pid) {
                before = a->p[j].ticks;
                break;
            }
        double pct = (double)(b->p[i].ticks - before) / tck / dt * 100.0;
        int k;
        for (k = 0; k < out->n; k++)
            if (strcmp(out->g[k].name, b->p[i].group) == 0)
                break;
        if (k == out->n) {
            if (out->n == CPU_MAX_GROUPS)
                continue;
            snprintf(out->g[k].name, sizeof out->g[k].name, "%s", b->p[i].group);
            out->n++;
        }
        out->g[k].pct += pct;
        ours += pct;
    }
    /* Largest first. */
    for (int i = 1; i < out->n; i++)
        for (int j = i; j > 0 && out->g[j].pct > out->g[j - 1].pct; j--) {
            cpu_group_t t = out->g[j];
            out->g[j] = out->g[j - 1];
            out->g[j - 1] = t;
        }
    out->self_pct = (b->self_s - a->self_s) / dt * 100.0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (b->all > a->all) {
        double all = (double)(b->all - a->all);
        out->machine_pct = (double)(b->busy - a->busy) / all * 100.0 * (double)ncpu;
        out->iowait_pct = (double)(b->iowait - a->iowait) / all * 100.0 * (double)ncpu;
    }
    out->others_pct = out->machine_pct - ours - out->self_pct;
    if (out->others_pct < 0)
        out->others_pct = 0;
}

void cpu_snap_free(cpu_snap_t *s)
{
    free(s);
}

static double status_mib(const char *buf, const char *key)
{
    const char *p = strstr(buf, key);
    if (!p)
        return -1;
    return strtod(p + strlen(key), NULL) / 1024.0; /* kB */
}

int rss_read(rss_entry_t *out, int max)
{
    int n = 0;
    for (int i = 0; i < N_PROGRAMS && n < max; i++) {
        rss_entry_t *e = &out[n++];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "as-%s", PROGRAMS[i]);
        e->pid = program_pid(PROGRAMS[i]);
        e->hwm_mib = e->rss_mib = -1;
        char path[64], buf[4096];
        snprintf(path, sizeof path, "/proc/%d/status", e->pid);
        if (e->pid > 0 && read_file(path, buf, sizeof buf) > 0) {
            e->hwm_mib = status_mib(buf, "VmHWM:");
            e->rss_mib = status_mib(buf, "VmRSS:");
        }
    }
    return n;
}

/* ---- the machine ---- */

static double fsync_rate(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/.bench-fsync-test", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    static char block[8192];
    memset(block, 'x', sizeof block);
    int64_t t0 = bench_now_ns(), t;
    long n = 0;
    do {
        if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block || fdatasync(fd) < 0)
            break;
        n++;
        t = bench_now_ns();
    } while (t - t0 < 2000000000LL);
    t = bench_now_ns();
    close(fd);
    unlink(path);
    return n / ((t - t0) / 1e9);
}

json_t *machine_describe(const char *dir, double *fsync_per_s)
{
    json_t *m = json_object();
    json_object_set_new(m, "nproc", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    char buf[8192];
    if (read_file("/proc/cpuinfo", buf, sizeof buf) > 0) {
        char *p = strstr(buf, "model name");
        if (p && (p = strchr(p, ':'))) {
            p += 2;
            p[strcspn(p, "\n")] = '\0';
            json_object_set_new(m, "cpu", json_string(p));
        }
    }
    if (read_file("/proc/meminfo", buf, sizeof buf) > 0) {
        double mt = status_mib(buf, "MemTotal:");
        json_object_set_new(m, "memory_mib", json_integer((json_int_t)mt));
    }
    struct statvfs vf;
    if (statvfs(dir, &vf) == 0)
        json_object_set_new(
            m, "disk_size_gib",
            json_real((double)vf.f_blocks * (double)vf.f_frsize / (1024.0 * 1024 * 1024)));
    /* The device under dir, from /proc/self/mounts (longest matching mount point). */
    char real[600];
    if (realpath(dir, real)) {
        FILE *f = fopen("/proc/self/mounts", "r");
        char dev[256], mnt[512], type[64], best_dev[256] = "", best_type[64] = "";
        size_t best = 0;
        while (f && fscanf(f, "%255s %511s %63s %*[^\n]", dev, mnt, type) == 3) {
            size_t l = strlen(mnt);
            if (strncmp(real, mnt, l) == 0 && (real[l] == '/' || real[l] == 0 || l == 1) &&
                l >= best) {
                best = l;
                snprintf(best_dev, sizeof best_dev, "%s", dev);
                snprintf(best_type, sizeof best_type, "%s", type);
            }
        }
        if (f)
            fclose(f);
        json_object_set_new(m, "disk_device", json_string(best_dev));
        json_object_set_new(m, "filesystem", json_string(best_type));
        const char *base = strrchr(best_dev, '/');
        if (base) {
            char path[300];
            snprintf(path, sizeof path, "/sys/block/%s/queue/rotational", base + 1);
            if (read_file(path, buf, sizeof buf) > 0)
                json_object_set_new(m, "rotational", json_boolean(atoi(buf) == 1));
        }
    }
    struct utsname u;
    if (uname(&u) == 0) {
        char k[400];
        snprintf(k, sizeof k, "%s %s %s", u.sysname, u.release, u.machine);
        json_object_set_new(m, "kernel", json_string(k));
    }
    double r = fsync_rate(dir);
    *fsync_per_s = r;
    json_object_set_new(m, "fdatasync_per_s", json_real(r));
    if (read_file("/proc/loadavg", buf, sizeof buf) > 0) {
        buf[strcspn(buf, "\n")] = '\0';
        json_object_set_new(m, "loadavg_at_start", json_string(buf));
    }
    return m;
}
