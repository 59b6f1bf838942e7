using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;
using Rnn.Simd.Kernels.Gemm;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Kernels;

/// <summary>
/// Products with bf16 and int8 weights (float32 arithmetic): against a double reference over the rounded weights,
/// and bit for bit the same for every vector width, storage (compact or float panels), row count route, depth range
/// and thread count.
/// </summary>
[Trait("Category", "Kernels")]
[Trait("Isa", "All")]
public sealed class ReducedGemmTests
{
    private static readonly VectorWidth[] s_widths = [VectorWidth.V512, VectorWidth.V256, VectorWidth.V128, VectorWidth.Scalar];

    public static TheoryData<WeightPrecision> Precisions() => new() { WeightPrecision.BFloat16, WeightPrecision.Int8 };

    /// <summary>Nearest bf16 by comparing the two neighbours in double, ties to the even one: a second way to round.</summary>
    private static float ReferenceBFloat16(float v)
    {
        if (float.IsInfinity(v))
        {
            return v;
        }

        uint bits = BitConverter.SingleToUInt32Bits(v);
        float down = BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
        float up = BitConverter.UInt32BitsToSingle((bits & 0xFFFF0000u) + 0x10000u);
        // Past the largest finite bf16 the next one up is 2¹²⁸ for the distance (IEEE rounds to ±∞ there).
        double upValue = float.IsInfinity(up) && float.IsFinite(v) ? Math.CopySign(Math.Pow(2, 128), v) : up;
        double dDown = Math.Abs((double)v - down), dUp = Math.Abs(upValue - v);
        if (dDown != dUp)
        {
            return dDown < dUp ? down : up;
        }

        return ((bits >> 16) & 1u) == 0 ? down : up;
    }

    /// <summary>The weights as the reduced matrix must use them: rounded (bf16) or q with a scale per row (int8).</summary>
    private static (double[] W, double[] Scale) Rounded(float[] w, int n, int k, WeightPrecision precision)
    {
        var rounded = new double[n * k];
        var scale = new double[n];
        for (int row = 0; row < n; row++)
        {
            float max = 0f;
            for (int j = 0; j < k; j++)
            {
                max = Math.Max(max, Math.Abs(w[(row * k) + j]));
            }

            float s = max / 127f;
            scale[row] = precision == WeightPrecision.Int8 ? s : 1.0;
            for (int j = 0; j < k; j++)
            {
                float v = w[(row * k) + j];
                rounded[(row * k) + j] = precision == WeightPrecision.BFloat16
                    ? ReferenceBFloat16(v)
                    : s == 0f ? 0.0 : Math.Clamp(Math.Round((double)(v / s), MidpointRounding.ToEven), -127, 127);
            }
        }

        return (rounded, scale);
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void MatchesDoubleReference_OverTheRoundedWeights(WeightPrecision precision)
    {
        foreach ((int m, int n, int k) in new[] { (1, 37, 19), (2, 129, 64), (3, 70, 33), (7, 600, 5), (5, 96, 1030), (1, 300, 1100) })
        {
            var random = new TestRandom((ulong)((m * 7919) + (n * 31) + k));
            float[] w = random.Array(n * k, -1.5f, 1.5f);
            float[] x = random.Array(m * k, -2f, 2f);
            float[] c0 = random.Array(m * n, -1f, 1f);
            (double[] rounded, double[] scale) = Rounded(w, n, k, precision);
            PackedMatrix packed = PackedMatrix.FromRowsAsColumns(w, n, k, k).WithPrecision(precision, compact: true);
            foreach (bool accumulate in new[] { false, true })
            {
                float[] c = (float[])c0.Clone();
                Gemm.MultiplyPacked(m, x, k, packed, c, n, accumulate);
                for (int i = 0; i < m; i++)
                {
                    for (int j = 0; j < n; j++)
                    {
                        double sum = 0, abs = 0;
                        for (int p = 0; p < k; p++)
                        {
                            sum += x[(i * k) + p] * rounded[(j * k) + p];
                            abs += Math.Abs(x[(i * k) + p] * rounded[(j * k) + p]);
                        }

                        double expected = (sum * scale[j]) + (accumulate ? c0[(i * n) + j] : 0);
                        double bound = ((k + 2) * Math.Pow(2, -24) * ((abs * scale[j]) + Math.Abs(expected))) + 1e-30;
                        double error = Math.Abs(c[(i * n) + j] - expected);
                        Assert.True(error <= bound, $"{precision} {m}×{n}×{k} acc={accumulate} ({i}, {j}): {c[(i * n) + j]} vs {expected}, error {error} > {bound}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// One result per precision: every width × compact or float panels × threads 1 and 2 × rows 1, 2, 3, 8 and 13 ×
    /// the depth split of a fused [W_x | W_h] (two ranges, accumulated) gives the scalar float-panel route's bits.
    /// </summary>
    [Theory]
    [MemberData(nameof(Precisions))]
    public void EveryRoute_GivesTheSameBits(WeightPrecision precision)
    {
        const int n = 203, k = 1041, split = 17;
        var random = new TestRandom(77);
        float[] w = random.Array(n * k, -1f, 1f);
        float[] x = random.Array(13 * k, -1f, 1f);
        float[] bias = random.Array(13 * n, -1f, 1f);
        using var team = new ThreadTeam(2);
        float[]? expected = null;
        foreach (VectorWidth width in s_widths)
        {
            foreach (bool compact in new[] { false, true })
            {
                PackedMatrix packed = PackedMatrix.FromRowsAsColumns(w, n, k, k, width).WithPrecision(precision, compact);
                foreach (ThreadTeam? threads in new[] { null, team })
                {
                    float[] c = new float[13 * n];
                    foreach ((int first, int rows) in new[] { (0, 1), (1, 2), (3, 3), (6, 7) })
                    {
                        Span<float> ci = c.AsSpan(first * n, rows * n);
                        bias.AsSpan(first * n, rows * n).CopyTo(ci);
                        Gemm.MultiplyPackedRange(rows, x.AsSpan(first * k), k, packed, 0, split, n, ci, n, accumulate: true, threads);
                        Gemm.MultiplyPackedRange(rows, x.AsSpan((first * k) + split), k, packed, split, k - split, n, ci, n, accumulate: true, threads);
                    }

                    // Fewer columns than the matrix holds (the GRU's two of three gate blocks).
                    float[] narrow = new float[13 * 150];
                    Gemm.MultiplyPackedRange(13, x, k, packed, 0, k, 150, narrow, 150, accumulate: false, threads);
                    float[] both = [.. c, .. narrow];
                    if (expected is null)
                    {
                        expected = both;
                    }
                    else
                    {
                        Assert.True(
                            expected.AsSpan().SequenceEqual(both),
                            $"{precision} at {width}, compact={compact}, threads={threads?.ThreadCount ?? 1} differs from the first route.");
                    }
                }
            }
        }
    }

    [Fact]
    public void BFloat16Rounding_MatchesTheNeighbourComparison()
    {
        var random = new TestRandom(5);
        foreach (float v in new[] { 0f, -0f, 1f, 1.00390625f, 1.0078125f, 1.01171875f, float.MaxValue, float.Epsilon, -3.3e-39f, float.PositiveInfinity, float.NegativeInfinity })
        {
            Assert.Equal(BitConverter.SingleToUInt32Bits(ReferenceBFloat16(v)), BitConverter.SingleToUInt32Bits(ReducedWeights.RoundToBFloat16(v)));
        }

        for (int i = 0; i < 100_000; i++)
        {
            float v = BitConverter.UInt32BitsToSingle((uint)random.NextUInt64());
            if (float.IsNaN(v))
            {
                Assert.True(float.IsNaN(ReducedWeights.RoundToBFloat16(v)));
                continue;
            }

            Assert.Equal(BitConverter.SingleToUInt32Bits(ReferenceBFloat16(v)), BitConverter.SingleToUInt32Bits(ReducedWeights.RoundToBFloat16(v)));
        }
    }

    [Fact]
    public void CompactPanels_HoldHalfAndAQuarterOfTheBytes()
    {
        PackedMatrix f32 = PackedMatrix.FromRowsAsColumns(new float[1024 * 512], 1024, 512, 512, VectorWidth.V512);
        Assert.Equal(1024L * 512 * 2, f32.WithPrecision(WeightPrecision.BFloat16, compact: true).Compact!.Bytes);
        Assert.Equal(1024L * 512, f32.WithPrecision(WeightPrecision.Int8, compact: true).Compact!.Bytes);
    }

    [Fact]
    public void Errors_AreNamed()
    {
        float[] w = [1f, float.NaN, 2f, 3f];
        PackedMatrix packed = PackedMatrix.FromRowsAsColumns(w, 2, 2, 2);
        var nan = Assert.Throws<InvalidOperationException>(() => packed.WithPrecision(WeightPrecision.Int8, compact: true));
        Assert.Contains("int8 holds finite weights only", nan.Message, StringComparison.Ordinal);
        PackedMatrix bf16 = packed.WithPrecision(WeightPrecision.BFloat16, compact: false);
        Assert.Throws<InvalidOperationException>(() => bf16.Repack(w, 2));
        Assert.Throws<InvalidOperationException>(() => bf16.WithPrecision(WeightPrecision.Int8, compact: true));
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void Products_AllocateNothing(WeightPrecision precision)
    {
        const int n = 512, k = 300;
        var random = new TestRandom(3);
        PackedMatrix packed = PackedMatrix.FromRowsAsColumns(random.Array(n * k), n, k, k).WithPrecision(precision, compact: true);
        float[] x = random.Array(8 * k), c = new float[8 * n];
        using var team = new ThreadTeam(2);
        AllocationAssert.None(
            () =>
            {
                Gemm.MultiplyPacked(1, x, k, packed, c, n, accumulate: true, team);
                Gemm.MultiplyPacked(8, x, k, packed, c, n, accumulate: false, team);
            },
            team);
    }
}
