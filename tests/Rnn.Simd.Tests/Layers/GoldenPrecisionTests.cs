using Rnn.Simd.Kernels;
using Rnn.Simd.Layers;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Layers;

/// <summary>
/// The accuracy of reduced weights on every PyTorch fixture (perf/results/precision.md reports these lines): each
/// output's max |error| at bf16 and int8 against the float32 network and against PyTorch's float64 twin. The bounds
/// are what rounding the weights predicts (bf16 keeps 8 bits: relative 2⁻⁹ a weight; int8 at most half a step,
/// max|w|/254), times the sums and steps the fixtures run; the reduction must also show (a nonzero difference from
/// float32), so a network that silently stayed float32 fails.
/// </summary>
[Trait("Category", "Layers")]
[Trait("Isa", "All")]
public sealed class GoldenPrecisionTests(ITestOutputHelper output)
{
    private static readonly string s_root = Path.Combine(AppContext.BaseDirectory, "Golden");

    public static TheoryData<string> Cases() => GoldenForwardTests.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReducedWeights_StayWithinTheirRoundingBound(string name)
    {
        GoldenCase golden = GoldenCase.Load(s_root, name);
        (float[] y, float[] hN, float[] cN) = golden.Run(threads: null);
        foreach ((WeightPrecision precision, double bound) in new[] { (WeightPrecision.BFloat16, 0.01), (WeightPrecision.Int8, 0.025) })
        {
            RecurrentNetwork reduced = golden.Network.WithWeightPrecision(precision);
            (float[] ry, float[] rh, float[] rc) = golden.Run(threads: null, reduced);
            foreach ((string tensor, float[] f32, float[] actual) in new[] { ("output", y, ry), ("h_n", hN, rh), ("c_n", cN, rc) })
            {
                if (!golden.Expected.Contains(tensor))
                {
                    continue;
                }

                double[] reference = golden.Expected.ReadDouble(tensor + ".f64");
                double toFloat64 = GoldenForwardTests.MaxAbsError(actual, reference);
                double toFloat32 = GoldenForwardTests.MaxAbsError(actual, [.. f32.Select(v => (double)v)]);
                double float32Error = GoldenForwardTests.MaxAbsError(f32, reference);
                output.WriteLine($"| {name} | {tensor} | {precision} | {toFloat32:E2} | {toFloat64:E2} | {float32Error:E2} |");
                Assert.True(toFloat64 <= bound, $"{name} {tensor} {precision}: max |error| {toFloat64:E3} against float64 exceeds {bound}.");
                Assert.True(toFloat32 > 0, $"{name} {tensor} {precision}: identical to float32, so the weights were not reduced.");
            }
        }
    }
}
