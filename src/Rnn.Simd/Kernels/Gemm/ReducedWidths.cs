using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Rnn.Simd.Kernels.Gemm;

/// <summary>AVX-512 (L = 16) for <see cref="ReducedKernel{TWidth, TVector}"/>.</summary>
internal readonly unsafe struct ReducedWidth512 : IReducedWidth<Vector512<float>>
{
    public static int Lanes => 16;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(void* p) => Vector512.Load((float*)p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> v, float* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float* x) => Vector512.Create(*x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Mad.Fma(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> High(Vector512<float> words) => (words.AsUInt32() & Vector512.Create(0xFFFF0000u)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Low(Vector512<float> words) => Vector512.ShiftLeft(words.AsUInt32(), 16).AsSingle();

    public static Vector512<float> Byte1Indices => Vector512.Create(Vector128.Create((byte)255, 255, 255, 1, 255, 255, 255, 5, 255, 255, 255, 9, 255, 255, 255, 13)).AsSingle();

    public static Vector512<float> Byte2Indices => Vector512.Create(Vector128.Create((byte)255, 255, 255, 2, 255, 255, 255, 6, 255, 255, 255, 10, 255, 255, 255, 14)).AsSingle();

    public static Vector512<float> TopByteMask => Vector512.Create(unchecked((int)0xFF000000)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Byte(Vector512<float> words, int j, in ByteConstants<Vector512<float>> c) => Vector512.ConvertToSingle(j switch
    {
        0 => Vector512.ShiftLeft(words.AsInt32(), 24),
        1 => (Avx512BW.IsSupported ? Avx512BW.Shuffle(words.AsByte(), c.Byte1.AsByte()).AsInt32() : Vector512.ShiftLeft(words.AsInt32(), 16) & c.Top.AsInt32()),
        2 => (Avx512BW.IsSupported ? Avx512BW.Shuffle(words.AsByte(), c.Byte2.AsByte()).AsInt32() : Vector512.ShiftLeft(words.AsInt32(), 8) & c.Top.AsInt32()),
        _ => words.AsInt32() & c.Top.AsInt32(),
    });
}

/// <summary>AVX2 (L = 8) for <see cref="ReducedKernel{TWidth, TVector}"/>.</summary>
internal readonly unsafe struct ReducedWidth256 : IReducedWidth<Vector256<float>>
{
    public static int Lanes => 8;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* p) => Vector256.Load((float*)p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<float> v, float* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float* x) => Vector256.Create(*x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Mad.Fma(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> High(Vector256<float> words) => (words.AsUInt32() & Vector256.Create(0xFFFF0000u)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Low(Vector256<float> words) => Vector256.ShiftLeft(words.AsUInt32(), 16).AsSingle();

    public static Vector256<float> Byte1Indices => Vector256.Create(Vector128.Create((byte)255, 255, 255, 1, 255, 255, 255, 5, 255, 255, 255, 9, 255, 255, 255, 13)).AsSingle();

    public static Vector256<float> Byte2Indices => Vector256.Create(Vector128.Create((byte)255, 255, 255, 2, 255, 255, 255, 6, 255, 255, 255, 10, 255, 255, 255, 14)).AsSingle();

    public static Vector256<float> TopByteMask => Vector256.Create(unchecked((int)0xFF000000)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Byte(Vector256<float> words, int j, in ByteConstants<Vector256<float>> c) => Vector256.ConvertToSingle(j switch
    {
        0 => Vector256.ShiftLeft(words.AsInt32(), 24),
        1 => (Avx2.IsSupported ? Avx2.Shuffle(words.AsByte(), c.Byte1.AsByte()).AsInt32() : Vector256.ShiftLeft(words.AsInt32(), 16) & c.Top.AsInt32()),
        2 => (Avx2.IsSupported ? Avx2.Shuffle(words.AsByte(), c.Byte2.AsByte()).AsInt32() : Vector256.ShiftLeft(words.AsInt32(), 8) & c.Top.AsInt32()),
        _ => words.AsInt32() & c.Top.AsInt32(),
    });
}

/// <summary>SSE and NEON (L = 4) for <see cref="ReducedKernel{TWidth, TVector}"/>.</summary>
internal readonly unsafe struct ReducedWidth128 : IReducedWidth<Vector128<float>>
{
    public static int Lanes => 4;

    public static Vector128<float> Zero => Vector128<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Load(void* p) => Vector128.Load((float*)p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<float> v, float* p) => v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Broadcast(float* x) => Vector128.Create(*x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Fma(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Mad.Fma(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> High(Vector128<float> words) => (words.AsUInt32() & Vector128.Create(0xFFFF0000u)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Low(Vector128<float> words) => Vector128.ShiftLeft(words.AsUInt32(), 16).AsSingle();

    public static Vector128<float> Byte1Indices => Vector128.Create((byte)255, 255, 255, 1, 255, 255, 255, 5, 255, 255, 255, 9, 255, 255, 255, 13).AsSingle();

    public static Vector128<float> Byte2Indices => Vector128.Create((byte)255, 255, 255, 2, 255, 255, 255, 6, 255, 255, 255, 10, 255, 255, 255, 14).AsSingle();

    public static Vector128<float> TopByteMask => Vector128.Create(unchecked((int)0xFF000000)).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Byte(Vector128<float> words, int j, in ByteConstants<Vector128<float>> c) => Vector128.ConvertToSingle(j switch
    {
        0 => Vector128.ShiftLeft(words.AsInt32(), 24),
        1 => (Ssse3.IsSupported ? Ssse3.Shuffle(words.AsByte(), c.Byte1.AsByte()) : AdvSimd.Arm64.IsSupported ? AdvSimd.Arm64.VectorTableLookup(words.AsByte(), c.Byte1.AsByte()) : (Vector128.ShiftLeft(words.AsInt32(), 16) & c.Top.AsInt32()).AsByte()).AsInt32(),
        2 => (Ssse3.IsSupported ? Ssse3.Shuffle(words.AsByte(), c.Byte2.AsByte()) : AdvSimd.Arm64.IsSupported ? AdvSimd.Arm64.VectorTableLookup(words.AsByte(), c.Byte2.AsByte()) : (Vector128.ShiftLeft(words.AsInt32(), 8) & c.Top.AsInt32()).AsByte()).AsInt32(),
        _ => words.AsInt32() & c.Top.AsInt32(),
    });
}
