using Rnn.Simd.Internal;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Kernels;

[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class GemmTests
{
    /// <summary>Every size the issue names: edges around each MR/NR/KC multiple.</summary>
    public static readonly int[] Sizes = [0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 63, 65, 127, 129, 255, 257];

    private static readonly GemmVariant[] s_variants = Enum.GetValues<GemmVariant>();

    public static TheoryData<int> EveryM() => new(Sizes);

    /// <summary>
    /// Every (M, N, K) of <see cref="Sizes"/>³ against the double reference. Every shape runs all five ways to
    /// reach a product, overwriting and accumulating, when FMA is in hardware; with FMA emulated (7× slower:
    /// DOTNET_EnableAVX2=0 or EnableHWIntrinsic=0) each shape runs two of the ten combinations in rotation,
    /// so every combination still meets every size of every dimension.
    /// </summary>
    [Theory]
    [MemberData(nameof(EveryM))]
    public void MatchesDoubleReference_ForEveryShape(int m)
    {
        int shape = 0;
        foreach (int n in Sizes)
        {
            foreach (int k in Sizes)
            {
                var gemm = new GemmCase(m, n, k, seed: (ulong)((m * 1000003) + (n * 1009) + k));
                for (int combination = 0; combination < 2 * s_variants.Length; combination++)
                {
                    if (!Isa.HardwareFma && (combination % 5) != (shape % 5))
                    {
                        continue;
                    }

                    gemm.Run(s_variants[combination % s_variants.Length], accumulate: combination >= s_variants.Length, Isa.Best);
                }

                shape++;
            }
        }
    }

    public static TheoryData<int, int, int> LargeShapes() => new()
    {
        { 512, 512, 512 },
        { 1024, 48, 40 },
        { 2048, 33, 17 },
        { 20, 1024, 96 },
        { 7, 2048, 65 },
        { 9, 40, 1024 },
        { 5, 33, 2048 },
        { 64, 3079, 64 },
    };

    [Theory]
    [MemberData(nameof(LargeShapes))]
    public void MatchesDoubleReference_ForLargeShapes(int m, int n, int k)
    {
        var gemm = new GemmCase(m, n, k, seed: 42);
        foreach (GemmVariant variant in s_variants)
        {
            gemm.Run(variant, accumulate: variant is GemmVariant.AB or GemmVariant.PackedWeights, Isa.Best);
        }
    }

    public static TheoryData<string> SpecialValueKinds() => new() { "nan", "inf", "denormal", "zero" };

    /// <summary>NaN, ±Inf, denormals and ±0 sprinkled into both operands propagate as IEEE arithmetic says.</summary>
    [Theory]
    [MemberData(nameof(SpecialValueKinds))]
    public void SpecialValues_PropagateLikeIeeeArithmetic(string kind)
    {
        float[] specials = kind switch
        {
            "nan" => [float.NaN],
            "inf" => [float.PositiveInfinity, float.NegativeInfinity],
            "denormal" => [float.Epsilon, -float.Epsilon, 1e-40f, -3e-39f, BitConverter.Int32BitsToSingle(0x007F_FFFF)],
            _ => [0f, -0f],
        };

        foreach ((int m, int n, int k) in new[] { (1, 1, 1), (7, 33, 17), (13, 70, 300), (1, 65, 40) })
        {
            var gemm = new GemmCase(m, n, k, seed: 7, random =>
            {
                // One value in eight is special; denormal tests also keep the normal values tiny so that
                // products underflow.
                if (random.Next(8) == 0)
                {
                    return specials[random.Next(specials.Length)];
                }

                return kind == "denormal" ? random.Uniform(-1e-20f, 1e-20f) : random.Uniform(-1f, 1f);
            });
            foreach (GemmVariant variant in s_variants)
            {
                gemm.Run(variant, accumulate: false, Isa.Best);
                gemm.Run(variant, accumulate: true, Isa.Best);
            }
        }
    }

    [Fact]
    public void EmptyDepth_OverwritesWithZeros_OrLeavesCUnchanged()
    {
        var gemm = new GemmCase(5, 9, 0, seed: 3);
        foreach (GemmVariant variant in s_variants)
        {
            float[] overwritten = gemm.Run(variant, accumulate: false, Isa.Best);
            Assert.All(overwritten, v => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(v)));
            float[] accumulated = gemm.Run(variant, accumulate: true, Isa.Best);
            Assert.Equal(gemm.C0, accumulated);
        }
    }

    [Fact]
    public void AccumulateTwice_AddsTheProductTwice()
    {
        var random = new TestRandom(11);
        int m = 9, n = 37, k = 21;
        float[] a = random.Array(m * k), b = random.Array(n * k);
        float[] once = new float[m * n], twice = new float[m * n];
        Gemm.MultiplyABt(m, n, k, a, k, b, k, once, n, accumulate: false);
        Gemm.MultiplyABt(m, n, k, a, k, b, k, twice, n, accumulate: false);
        Gemm.MultiplyABt(m, n, k, a, k, b, k, twice, n, accumulate: true);
        for (int i = 0; i < once.Length; i++)
        {
            Assert.Equal(2 * once[i], twice[i], 2 * k * 1e-6f * 4);
        }
    }

    /// <summary>Each element is one FMA chain in k order: the scalar definition, bit for bit.</summary>
    [Fact]
    public void EveryElement_IsOneSequentialFmaChain()
    {
        var random = new TestRandom(5);
        int m = 13, n = 45, k = 600;
        float[] a = random.Array(m * k), b = random.Array(k * n), c0 = random.Array(m * n);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] c = (float[])c0.Clone();
            Gemm.MultiplyAB(m, n, k, a, k, b, n, c, n, accumulate);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    float chain = accumulate ? c0[(i * n) + j] : 0f;
                    for (int p = 0; p < k; p++)
                    {
                        chain = MathF.FusedMultiplyAdd(a[(i * k) + p], b[(p * n) + j], chain);
                    }

                    Assert.Equal(BitConverter.SingleToInt32Bits(chain), BitConverter.SingleToInt32Bits(c[(i * n) + j]));
                }
            }
        }
    }
}
