/*
 * What differs between Linux and ESP-IDF, in one place: random bytes, a millisecond clock, the lock, tasks,
 * counted allocations. Sockets are BSD sockets on both (lwIP on the ESP32), see wsk_socket.h.
 */
#ifndef WSK_PLATFORM_H
#define WSK_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "wsk_common.h"

/** Fill `buf` with `len` bytes from the system CSPRNG (getrandom / esp_fill_random). */
wsk_err_t wsk_fill_random(void *buf, size_t len);

/** Monotonic milliseconds. */
int64_t wsk_now_ms(void);

/** The one host lock: it guards the engine instance and every server/client table (recursive). */
void wsk_lock(void);
void wsk_unlock(void);

/** A task (FreeRTOS task through ESP-IDF's pthread layer, or a pthread on Linux). */
typedef struct wsk_task *wsk_task_t;
wsk_err_t wsk_task_start(wsk_task_t *task, const char *name, size_t stack_size, int priority, void (*run)(void *),
                         void *arg);
/** Wait for the task to return and free it. */
void wsk_task_join(wsk_task_t task);
/** True when called from `task` itself. */
bool wsk_task_is_current(wsk_task_t task);

/** malloc/calloc/free that count the bytes in use (wsk_stats_t.host_heap_used). */
void *wsk_malloc(size_t size);
void *wsk_calloc(size_t count, size_t size);
void *wsk_realloc(void *ptr, size_t size);
void wsk_free(void *ptr);
size_t wsk_heap_used(void);

#endif
