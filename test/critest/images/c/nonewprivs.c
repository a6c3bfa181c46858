/*
 * Installed setuid root: prints the effective uid it runs with, so a test can tell
 * whether no_new_privs kept the setuid bit from taking effect.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("Effective uid: %d\n", (int)geteuid());
  return 0;
}
