using Rnn.Simd.Internal;

namespace Rnn.Simd.Training;

/// <summary>
/// Finite-difference gradient checking in double precision: compares an analytic gradient with central differences
/// (f(x + h·e_i) − f(x − h·e_i)) / 2h, the standard test of a backward pass.
/// </summary>
public static class GradientCheck
{
    /// <summary>The result of a check: the worst element and its errors.</summary>
    /// <param name="WorstIndex">The element with the largest relative error.</param>
    /// <param name="Numeric">The central difference there.</param>
    /// <param name="Analytic">The analytic gradient there.</param>
    /// <param name="MaxRelativeError">max_i |a_i − n_i| / max(|a_i| + |n_i|, floor).</param>
    public readonly record struct Result(int WorstIndex, double Numeric, double Analytic, double MaxRelativeError);

    /// <summary>
    /// Checks <paramref name="analytic"/> against central differences of <paramref name="function"/> at <paramref name="point"/>.
    /// The point is restored after each probe.
    /// </summary>
    /// <param name="function">The scalar function (a loss) of the point, evaluated in double.</param>
    /// <param name="point">Where to differentiate; modified temporarily.</param>
    /// <param name="analytic">The gradient to check, one entry per element of <paramref name="point"/>.</param>
    /// <param name="step">The difference step h.</param>
    /// <param name="floor">Relative errors are taken against max(|a| + |n|, floor), so tiny gradients compare absolutely.</param>
    public static Result Check(Func<double[], double> function, double[] point, ReadOnlySpan<double> analytic, double step = 1e-6, double floor = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(point);
        ThrowHelper.ThrowIfLengthIsNot(analytic.Length, point.Length, nameof(analytic), "one per element of point");
        if (!(step > 0))
        {
            ThrowHelper.ArgumentOutOfRange(nameof(step), $"Must be positive, was {step}.");
        }

        var worst = new Result(-1, 0, 0, 0);
        for (int i = 0; i < point.Length; i++)
        {
            double saved = point[i];
            point[i] = saved + step;
            double plus = function(point);
            point[i] = saved - step;
            double minus = function(point);
            point[i] = saved;
            double numeric = (plus - minus) / (2 * step);
            double error = Math.Abs(analytic[i] - numeric) / Math.Max(Math.Abs(analytic[i]) + Math.Abs(numeric), floor);
            if (!(error <= worst.MaxRelativeError))
            {
                worst = new Result(i, numeric, analytic[i], error);
            }
        }

        return worst;
    }
}
