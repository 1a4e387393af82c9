/* as/proc.h — this process's own figures from /proc/self: CPU time, resident memory, open
 * descriptors and start time (the services' stats and the gateway's /metrics report them). */
#ifndef AS_PROC_H
#define AS_PROC_H

typedef struct as_proc {
    double cpu_s;     /* user + system CPU seconds */
    double rss_bytes; /* resident memory */
    unsigned fds;     /* open file descriptors */
    double start_s;   /* when the process started, in unix seconds (0 when unknown) */
} as_proc_t;

/* Read the figures; a figure that cannot be read is 0. */
void as_proc_read(as_proc_t *p);

#endif
