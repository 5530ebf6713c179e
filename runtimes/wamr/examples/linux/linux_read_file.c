/* Linux only: see linux_read_file.h. */
#include "linux_read_file.h"

#include <stdio.h>
#include <stdlib.h>

char *linux_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        text = size >= 0 ? malloc((size_t)size + 1) : NULL;
        if (text && (fseek(f, 0, SEEK_SET) != 0 || fread(text, 1, (size_t)size, f) != (size_t)size)) {
            free(text);
            text = NULL;
        }
        if (text) text[size] = 0;
    }
    fclose(f);
    return text;
}
