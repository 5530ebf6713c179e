/* Logging: ESP_LOGx on ESP-IDF; on Linux stderr lines filtered by wsk_log_level (WSK_LOG_LEVEL env var). */
#ifndef WSK_LOG_H
#define WSK_LOG_H

#ifdef ESP_PLATFORM
#include "esp_log.h"
#define WSK_LOGE ESP_LOGE
#define WSK_LOGW ESP_LOGW
#define WSK_LOGI ESP_LOGI
#define WSK_LOGD ESP_LOGD
#else
#include <stdio.h>

/** 0 none, 1 error, 2 warn, 3 info, 4 debug. */
extern int wsk_log_level;

#define WSK_LOG_AT(level, letter, tag, fmt, ...)                                                         \
    do {                                                                                               \
        if (wsk_log_level >= (level)) fprintf(stderr, letter " (%s) " fmt "\n", tag, ##__VA_ARGS__); \
    } while (0)
#define WSK_LOGE(tag, fmt, ...) WSK_LOG_AT(1, "E", tag, fmt, ##__VA_ARGS__)
#define WSK_LOGW(tag, fmt, ...) WSK_LOG_AT(2, "W", tag, fmt, ##__VA_ARGS__)
#define WSK_LOGI(tag, fmt, ...) WSK_LOG_AT(3, "I", tag, fmt, ##__VA_ARGS__)
#define WSK_LOGD(tag, fmt, ...) WSK_LOG_AT(4, "D", tag, fmt, ##__VA_ARGS__)
#endif

#endif
