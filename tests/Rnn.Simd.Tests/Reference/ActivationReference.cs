using Rnn.Simd.Kernels.Activations;

namespace Rnn.Simd.Tests.Reference;

/// <summary>
/// Plain double-precision activations: the readable ground truth the float kernels are measured
/// against. No SIMD, no tricks; each line is the textbook formula.
/// </summary>
internal static class ActivationReference
{
    private static readonly double s_minNormal = Math.ScaleB(1.0, -126);
    private static readonly double s_denormalUlp = Math.ScaleB(1.0, -149);

    public static double Exp(double x) => Math.Exp(x);

    public static double Tanh(double x) => Math.Tanh(x);

    // σ(x) = 1/(1 + e^−x), written as e^x/(1 + e^x) for x < 0 so that e^−x cannot overflow to ∞
    // before the (double) result reaches the float denormal range.
    public static double Sigmoid(double x) => x >= 0 ? 1.0 / (1.0 + Math.Exp(-x)) : Math.Exp(x) / (1.0 + Math.Exp(x));

    public static double Relu(double x) => double.IsNaN(x) ? double.NaN : Math.Max(x, 0.0);

    // Derivatives in terms of x, for finite differences and formula checks.
    public static double SigmoidDerivative(double x)
    {
        double s = Sigmoid(x);
        return s * (1.0 - s);
    }

    public static double TanhDerivative(double x)
    {
        double t = Math.Tanh(x);
        return 1.0 - (t * t);
    }

    /// <summary>softmax of one row: y_i = e^(x_i − m) / Σ_j e^(x_j − m), m = max x.</summary>
    public static void Softmax(ReadOnlySpan<double> x, Span<double> y)
    {
        double max = double.NegativeInfinity;
        foreach (double v in x)
        {
            max = Math.Max(max, v);
        }

        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = Math.Exp(x[i] - max);
            sum += y[i];
        }

        for (int i = 0; i < x.Length; i++)
        {
            y[i] /= sum;
        }
    }

    /// <summary>log-softmax of one row: y_i = (x_i − m) − log Σ_j e^(x_j − m).</summary>
    public static void LogSoftmax(ReadOnlySpan<double> x, Span<double> y)
    {
        double max = double.NegativeInfinity;
        foreach (double v in x)
        {
            max = Math.Max(max, v);
        }

        double sum = 0;
        foreach (double v in x)
        {
            sum += Math.Exp(v - max);
        }

        double logSum = Math.Log(sum);
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = (x[i] - max) - logSum;
        }
    }

    /// <summary>
    /// The error of <paramref name="actual"/> in units in the last place of the float nearest to
    /// <paramref name="expected"/> (denormal ulp below 2^−126). Agreeing NaNs and infinities are 0;
    /// a correctly rounded result is at most 0.5.
    /// </summary>
    public static double UlpError(float actual, double expected)
    {
        if (double.IsNaN(expected) || float.IsNaN(actual))
        {
            return double.IsNaN(expected) && float.IsNaN(actual) ? 0 : double.PositiveInfinity;
        }

        float rounded = (float)expected;
        if (float.IsInfinity(rounded) || float.IsInfinity(actual))
        {
            return actual == rounded ? 0 : double.PositiveInfinity;
        }

        return Math.Abs(actual - expected) / Ulp(expected);
    }

    /// <summary>The spacing of floats at the magnitude of <paramref name="value"/>.</summary>
    public static double Ulp(double value)
    {
        double magnitude = Math.Abs(value);
        return magnitude < s_minNormal ? s_denormalUlp : Math.ScaleB(1.0, Math.ILogB(magnitude) - 23);
    }
}
