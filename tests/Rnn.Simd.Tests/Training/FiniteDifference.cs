using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// The finite-difference checks' shared rule: an engine gradient (float32, at the float32 forward states) against
/// <see cref="GradientCheck"/>'s central differences of a double-precision reference loss.
/// </summary>
/// <remarks>
/// The rule: max_i |a_i − n_i| / max(|a_i| + |n_i|, 2) ≤ 5·10⁻⁶, that is |a − n| ≤ 10⁻⁵ · max(1, (|a| + |n|)/2):
/// absolute for gradients up to about 1, relative above. Why that much room and no more: the numeric side is
/// accurate to ~10⁻⁹ (double, step 10⁻⁶: truncation h²·f‴/6 ≈ 10⁻¹², cancellation ε·|L|/h ≈ 10⁻⁹ for |L| ≈ 10);
/// the analytic side carries float32's rounding (ε = 6·10⁻⁸) through a float32 forward pass and a backward pass
/// whose sums run over a few dozen O(1) terms (T·B rows, H or G·H features, two layers), so some 10⁻⁷ absolute at
/// gradients of order 1: observed at most 3.6·10⁻⁷ (1.8·10⁻⁷ on this measure) over every check here. The bound
/// leaves ~25× of that, the same for every vector width (the engine's bits do not depend on it), while a wrong term
/// (a missing or doubled contribution, a wrong gate, a transposed weight) moves a gradient by its own size, ≥ 10⁻²,
/// and fails by three orders of magnitude. (10⁻⁴ · max(1, |n|), the usual float32 rule, would pass too.)
/// </remarks>
internal static class FiniteDifference
{
    public const double Floor = 2.0;
    public const double Tolerance = 5e-6;

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }

        return result;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <summary>
    /// Checks <paramref name="analytic"/> against central differences of <paramref name="loss"/> with respect to
    /// <paramref name="point"/>, which the loss must read (it is perturbed in place and restored). Returns the worst error.
    /// </summary>
    public static GradientCheck.Result Check(ITestOutputHelper output, string label, Func<double> loss, double[] point, ReadOnlySpan<float> analytic)
    {
        GradientCheck.Result r = GradientCheck.Check(_ => loss(), point, ToDouble(analytic), step: 1e-6, floor: Floor);
        output.WriteLine($"{label}: worst {r.MaxRelativeError:E2} at {r.WorstIndex} (analytic {r.Analytic:G9}, numeric {r.Numeric:G9})");
        Assert.True(
            r.MaxRelativeError <= Tolerance,
            $"{label}: element {r.WorstIndex}: analytic {r.Analytic:R}, numeric {r.Numeric:R}, error {r.MaxRelativeError:E3} > {Tolerance:E1}.");
        return r;
    }

    /// <summary>Asserts |actual − expected| ≤ <paramref name="tolerance"/> element by element.</summary>
    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double tolerance, string label)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance, $"{label}[{i}] = {actual[i]:R}, reference {expected[i]:R}.");
        }
    }
}
