/* TEST ONLY: a stand-in for Windows' bcryptprimitives.dll in the Wine prefix that
 * `pnpm test:platforms` runs the Windows binary in. Never shipped.
 *
 * Rust's standard library (1.78 and later) imports ProcessPrng from
 * bcryptprimitives.dll, which every Windows 10 and later has. Wine 8 (Debian 12's) has
 * no such DLL, so without this one the addon fails to load under Wine ("module not
 * found"), although it loads on any real Windows it supports.
 *
 * ProcessPrng cannot fail on Windows; here it answers from advapi32's RtlGenRandom
 * (exported as SystemFunction036), which Wine has and which draws from the same
 * system generator. Built by scripts/platforms/runtimes.js with mingw-w64. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  /* RtlGenRandom takes a 32-bit length; SIZE_T is 64-bit here. */
  while (length > 0) {
    ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
