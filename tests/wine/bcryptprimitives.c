/*
 * Test-harness stand-in for Windows' bcryptprimitives.dll, used ONLY to run fieldkit's
 * Windows build under Wine 8.0 (tests/kit.rs). It is never part of the product or the kit.
 *
 * Why: Rust's std (1.78+) gets its random numbers from ProcessPrng in
 * bcryptprimitives.dll, present on every Windows 10+/Server 2016+, but Wine 8.0 does not
 * ship that DLL, so the .exe would not even load. This DLL exports ProcessPrng and fills
 * the buffer from advapi32's RtlGenRandom (SystemFunction036), which Wine implements.
 *
 * Build (tests/kit.rs does this into the Wine prefix's system32, never beside the exe):
 *   x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll \
 *       tests/wine/bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
