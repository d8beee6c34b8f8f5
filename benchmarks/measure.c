/* Run a command and report its wall time and peak RSS, for benchmarks/run.py.
 *
 *   measure RESULT_FILE COMMAND [ARGS...]
 *
 * Writes "WALL_NS MAXRSS_KIB WAIT_STATUS CPU_NS\n" to RESULT_FILE once COMMAND
 * has exited (CPU: user + system time of COMMAND and the children it waited for).  Why not os.wait4 around subprocess.Popen in the driver: on Linux
 * exec records the peak RSS of the memory the process had before it (for a
 * fork or vfork child that is the parent's), so every child of a Python
 * driver would report at least the driver's own RSS.  This helper is tiny,
 * so the floor it leaves is negligible (compare the row for /bin/true).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: measure RESULT_FILE COMMAND [ARGS...]\n");
        return 2;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("measure: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            perror("measure: wait4");
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long wall = (long long)(end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
    FILE *out = fopen(argv[1], "w");
    if (out == NULL) {
        perror("measure: result file");
        return 2;
    }
    long long cpu = (long long)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000LL +
                    (long long)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000LL;
    fprintf(out, "%lld %ld %d %lld\n", wall, usage.ru_maxrss, status, cpu);
    fclose(out);
    return 0;
}
