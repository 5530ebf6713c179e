/* Linux and ESP-IDF implementations of wsk_platform.h. ESP-IDF provides pthreads on top of FreeRTOS. */
#include "wsk_platform.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsk_log.h"

#ifdef ESP_PLATFORM
#include "esp_pthread.h"
#include "esp_random.h"
#include "esp_timer.h"
#else
#include <sys/random.h>
int wsk_log_level = 2;
#endif

wsk_err_t wsk_fill_random(void *buf, size_t len)
{
#ifdef ESP_PLATFORM
    esp_fill_random(buf, len);
    return WSK_OK;
#else
    uint8_t *at = buf;
    while (len > 0) {
        ssize_t n = getrandom(at, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return WSK_FAIL;
        }
        at += n;
        len -= (size_t)n;
    }
    return WSK_OK;
#endif
}

int64_t wsk_now_ms(void)
{
#ifdef ESP_PLATFORM
    return esp_timer_get_time() / 1000;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

static pthread_mutex_t s_lock;
static pthread_once_t s_lock_once = PTHREAD_ONCE_INIT;

static void lock_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s_lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

void wsk_lock(void)
{
    pthread_once(&s_lock_once, lock_init);
    pthread_mutex_lock(&s_lock);
}

void wsk_unlock(void)
{
    pthread_mutex_unlock(&s_lock);
}

struct wsk_task {
    pthread_t thread;
    void (*run)(void *);
    void *arg;
};

static void *task_main(void *p)
{
    struct wsk_task *task = p;
    task->run(task->arg);
    return NULL;
}

wsk_err_t wsk_task_start(wsk_task_t *out, const char *name, size_t stack_size, int priority, void (*run)(void *),
                         void *arg)
{
    struct wsk_task *task = wsk_calloc(1, sizeof(*task));
    if (!task) return WSK_ERR_NO_MEM;
    task->run = run;
    task->arg = arg;
#ifdef ESP_PLATFORM
    esp_pthread_cfg_t cfg = esp_pthread_get_default_config();
    cfg.stack_size = stack_size;
    cfg.prio = priority;
    cfg.thread_name = name;
    esp_pthread_set_cfg(&cfg);
#else
    (void)name;
    (void)stack_size;
    (void)priority;
#endif
    if (pthread_create(&task->thread, NULL, task_main, task) != 0) {
        wsk_free(task);
        return WSK_ERR_NO_MEM;
    }
    *out = task;
    return WSK_OK;
}

void wsk_task_join(wsk_task_t task)
{
    if (!task) return;
    pthread_join(task->thread, NULL);
    wsk_free(task);
}

bool wsk_task_is_current(wsk_task_t task)
{
    return task && pthread_equal(task->thread, pthread_self());
}

/* Each block carries its size in front so frees can be counted. */
typedef union {
    size_t size;
    max_align_t align;
} block_header_t;

static size_t s_heap_used;

void *wsk_malloc(size_t size)
{
    block_header_t *block = malloc(sizeof(block_header_t) + size);
    if (!block) return NULL;
    block->size = size;
    __atomic_add_fetch(&s_heap_used, size, __ATOMIC_RELAXED);
    return block + 1;
}

void *wsk_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *ptr = wsk_malloc(count * size);
    if (ptr) memset(ptr, 0, count * size);
    return ptr;
}

void *wsk_realloc(void *ptr, size_t size)
{
    if (!ptr) return wsk_malloc(size);
    block_header_t *old = (block_header_t *)ptr - 1;
    size_t old_size = old->size;
    block_header_t *block = realloc(old, sizeof(block_header_t) + size);
    if (!block) return NULL;
    block->size = size;
    __atomic_add_fetch(&s_heap_used, size, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&s_heap_used, old_size, __ATOMIC_RELAXED);
    return block + 1;
}

void wsk_free(void *ptr)
{
    if (!ptr) return;
    block_header_t *block = (block_header_t *)ptr - 1;
    __atomic_sub_fetch(&s_heap_used, block->size, __ATOMIC_RELAXED);
    free(block);
}

size_t wsk_heap_used(void)
{
    return __atomic_load_n(&s_heap_used, __ATOMIC_RELAXED);
}
