using System.Runtime.CompilerServices;
using Rnn.Simd.Internal;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>
/// The storage of packed weights: one pinned array whose first 64-byte boundary is the start of the panels, so that
/// they keep their alignment (and their address) for the lifetime of the owner.
/// </summary>
internal readonly unsafe struct PinnedPanels
{
    private readonly float[] _storage;
    private readonly int _offset;

    /// <summary>Room for <paramref name="length"/> floats; <paramref name="what"/> names the matrix in the error if one array cannot hold them.</summary>
    public PinnedPanels(long length, string paramName, string what)
    {
        if (length > Array.MaxLength - GemmBlocking.AlignFloats)
        {
            ThrowHelper.Argument(paramName, $"A packed {what} matrix needs {length} floats, more than one array holds.");
        }

        _storage = GC.AllocateArray<float>((int)length + GemmBlocking.AlignFloats, pinned: true);
        fixed (float* p = _storage)
        {
            _offset = (int)((((nuint)p + 63) & ~(nuint)63) - (nuint)p) / sizeof(float);
        }
    }

    /// <summary>The first float of the panels (64-byte aligned).</summary>
    public float* Pointer => (float*)Unsafe.AsPointer(ref _storage[_offset]);
}
