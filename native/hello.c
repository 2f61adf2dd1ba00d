/* hello: the tiny program in hako's built-in hello-world image. Static, no libc needed at run
 * time; it proves the container started, is isolated, and can write to its stdout. */
#include <stdio.h>
#include <unistd.h>
#include <sys/utsname.h>

int main(void) {
    struct utsname u;
    char host[65] = "?";
    if (uname(&u) == 0) snprintf(host, sizeof host, "%s", u.nodename);
    printf("\nHello from hako!\n"
           "This message shows that your installation appears to be working correctly.\n\n"
           "To generate this message, hako:\n"
           " 1. planned an OCI bundle (config.json + rootfs) in TypeScript,\n"
           " 2. cloned a process into fresh namespaces with its native executor,\n"
           " 3. mounted its root filesystem and pivoted into it, dropped capabilities,\n"
           " 4. and executed this program as pid %d on host \"%s\".\n\n",
           (int)getpid(), host);
    return 0;
}
