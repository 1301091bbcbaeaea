/*
 * What the boot loader handed over besides memory: the command line (copied
 * at boot) and the list of modules (files loaded next to the kernel, e.g.
 * guest images; pmm.c keeps their pages reserved). Arguments are
 * space-separated "key=value" words; QEMU puts the kernel's path first,
 * which has no '=' and is ignored.
 */
#include "core/util.h"
#include "kernel.h"
#include "multiboot.h"

#define MAX_MODULES 8

static char cmdline[512];
static struct boot_module modules[MAX_MODULES];
static size_t module_count;

void bootinfo_init(const struct multiboot_info *mbi)
{
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
        hv_strlcpy(cmdline, (const char *)(uintptr_t)mbi->cmdline, sizeof(cmdline));
    if (!(mbi->flags & MULTIBOOT_INFO_MODS))
        return;
    const struct multiboot_module *m = (const void *)(uintptr_t)mbi->mods_addr;
    for (uint32_t i = 0; i < mbi->mods_count && module_count < MAX_MODULES; i++) {
        if (m[i].mod_end < m[i].mod_start)
            continue;
        struct boot_module *bm = &modules[module_count++];
        bm->start = m[i].mod_start;
        bm->end = m[i].mod_end;
        if (m[i].string)
            hv_strlcpy(bm->name, (const char *)(uintptr_t)m[i].string, sizeof(bm->name));
    }
}

size_t boot_module_count(void)
{
    return module_count;
}

const struct boot_module *boot_module(size_t i)
{
    return i < module_count ? &modules[i] : NULL;
}

const char *boot_cmdline(void)
{
    return cmdline;
}

bool boot_arg(const char *key, char *out, size_t outlen)
{
    size_t klen = hv_strlen(key);
    for (const char *p = cmdline; *p;) {
        while (*p == ' ')
            p++;
        const char *word = p;
        while (*p && *p != ' ')
            p++;
        size_t wlen = (size_t)(p - word);
        if (wlen > klen && word[klen] == '=' && hv_memcmp(word, key, klen) == 0) {
            size_t vlen = HV_MIN(wlen - klen - 1, outlen - 1);
            hv_memcpy(out, word + klen + 1, vlen);
            out[vlen] = '\0';
            return true;
        }
    }
    return false;
}
