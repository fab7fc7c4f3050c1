/*
 * Helper for the Wine smoke test (tests/kit.rs); never part of the product.
 *
 *   wintool lock PATH SECONDS   open PATH with no sharing at all (as Windows holds a live
 *                               registry hive), print "locked", hold it SECONDS
 *   wintool lock-all SECONDS PATH...
 *                               the same for every PATH at once (tests/live_windows_raw.rs),
 *                               print "locked N" when all are held
 *   wintool lone-surrogate DIR  create DIR\lone-<U+D800>-surrogate.txt: a name that is
 *                               not valid UTF-16 (an unpaired surrogate), which Windows
 *                               file systems allow
 *
 * Build: x86_64-w64-mingw32-gcc -municode -O2 -s -o wintool.exe tests/wine/wintool.c
 */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>
#include <stdlib.h>

int wmain(int argc, wchar_t **argv)
{
    if (argc == 4 && wcscmp(argv[1], L"lock") == 0) {
        HANDLE h = CreateFileW(argv[2], GENERIC_READ, 0 /* no sharing */, NULL,
                               OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            fprintf(stderr, "wintool: cannot open: error %lu\n", GetLastError());
            return 1;
        }
        printf("locked\n");
        fflush(stdout);
        Sleep((DWORD)_wtoi(argv[3]) * 1000);
        CloseHandle(h);
        return 0;
    }
    if (argc >= 4 && wcscmp(argv[1], L"lock-all") == 0) {
        int n = argc - 3;
        HANDLE *hs = (HANDLE *)calloc((size_t)n, sizeof(HANDLE));
        if (!hs)
            return 2;
        for (int i = 0; i < n; i++) {
            hs[i] = CreateFileW(argv[3 + i], GENERIC_READ, 0 /* no sharing */, NULL,
                                OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
            if (hs[i] == INVALID_HANDLE_VALUE) {
                fwprintf(stderr, L"wintool: cannot open %ls: error %lu\n", argv[3 + i],
                         GetLastError());
                return 1;
            }
        }
        printf("locked %d\n", n);
        fflush(stdout);
        Sleep((DWORD)_wtoi(argv[2]) * 1000);
        for (int i = 0; i < n; i++)
            CloseHandle(hs[i]);
        free(hs);
        return 0;
    }
    if (argc == 3 && wcscmp(argv[1], L"lone-surrogate") == 0) {
        static const wchar_t name[] = {L'\\', L'l', L'o', L'n', L'e', L'-', 0xD800, L'-',
                                       L's', L'u', L'r', L'r', L'o', L'g', L'a', L't',
                                       L'e', L'.', L't', L'x', L't', 0};
        wchar_t path[4096];
        if (wcslen(argv[2]) + wcslen(name) >= 4096)
            return 2;
        wcscpy(path, argv[2]);
        wcscat(path, name);
        HANDLE h = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_NEW,
                               FILE_ATTRIBUTE_NORMAL, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            fprintf(stderr, "wintool: cannot create: error %lu\n", GetLastError());
            return 1;
        }
        DWORD written = 0;
        WriteFile(h, "unpaired surrogate\n", 19, &written, NULL);
        CloseHandle(h);
        printf("created\n");
        return 0;
    }
    fprintf(stderr, "usage: wintool lock PATH SECONDS | wintool lock-all SECONDS PATH... | "
                    "wintool lone-surrogate DIR\n");
    return 2;
}
