/*
 * Linux-only helper shared by the examples' Linux entry points (examples/echo_server/main/linux_main.c,
 * examples/client/main/linux_main.c) and the tests' client driver (test/runtimes/wamr/client_driver.c). Not
 * part of the ESP-IDF component: only the Linux CMake build (runtimes/wamr/CMakeLists.txt) compiles it.
 */
#ifndef LINUX_READ_FILE_H
#define LINUX_READ_FILE_H

/** The whole file as a NUL-terminated string (PEM for mbedTLS), malloc'ed (free() it), or NULL. */
char *linux_read_file(const char *path);

#endif
