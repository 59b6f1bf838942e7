using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Internal;

/// <summary>
/// Software prefetch hints: ask for a range of memory to be brought into the L2 cache ahead of its use. A hint only:
/// no value and no result changes, and where the hardware has no prefetch instruction (or intrinsics are off) it does
/// nothing.
/// </summary>
internal static unsafe class Prefetch
{
    /// <summary>Bytes of one cache line.</summary>
    public const int LineBytes = 64;

    /// <summary>Hints the cache lines of <paramref name="floats"/> floats from <paramref name="p"/> into L2 (null: nothing).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ToL2(float* p, nint floats)
    {
        if (!Sse.IsSupported || p == null)
        {
            return;
        }

        byte* start = (byte*)p, end = (byte*)(p + floats);
        for (byte* line = start; line < end; line += LineBytes)
        {
            Sse.Prefetch1(line);
        }
    }
}
