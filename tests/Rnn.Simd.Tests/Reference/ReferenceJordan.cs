using Rnn.Simd.Cells;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Tests.Reference;

/// <summary>Plain double loops for a dense layer and a Jordan network: the readable ground truth.</summary>
internal static class ReferenceJordan
{
    public static double Activate(Nonlinearity f, double a) => f switch
    {
        Nonlinearity.Tanh => Math.Tanh(a),
        Nonlinearity.Relu => Math.Max(0, a),
        Nonlinearity.Sigmoid => 1 / (1 + Math.Exp(-a)),
        _ => a,
    };

    /// <summary>y = f_out(W z + b) for one row: W [O, In] row-major.</summary>
    public static double[] Dense(float[] w, float[] b, OutputActivation f, ReadOnlySpan<double> z, int outputs) =>
        Dense(ToDouble(w), ToDouble(b), f, z, outputs);

    /// <summary>y = f_out(W z + b) for one row: W [O, In] row-major; b empty for none.</summary>
    public static double[] Dense(ReadOnlySpan<double> w, ReadOnlySpan<double> b, OutputActivation f, ReadOnlySpan<double> z, int outputs)
    {
        int inputs = z.Length;
        var y = new double[outputs];
        for (int j = 0; j < outputs; j++)
        {
            double sum = b.Length > 0 ? b[j] : 0;
            for (int k = 0; k < inputs; k++)
            {
                sum += w[(j * inputs) + k] * z[k];
            }

            y[j] = f == OutputActivation.Sigmoid ? 1 / (1 + Math.Exp(-sum)) : sum;
        }

        if (f == OutputActivation.Softmax)
        {
            double max = y.Max(), total = 0;
            for (int j = 0; j < outputs; j++)
            {
                y[j] = Math.Exp(y[j] - max);
                total += y[j];
            }

            for (int j = 0; j < outputs; j++)
            {
                y[j] /= total;
            }
        }

        return y;
    }

    /// <summary>
    /// Step by step: h_t = f_hid(W_in x_t + W_rec y_{t−1} + b), y_t = f_out(W_out h_t + b_out), y_{−1} = 0, and
    /// y_{t−1} replaced by teacher[t−1] when a teacher is given. Returns y [T, B, O].
    /// </summary>
    public static double[] Forward(
        JordanNetworkOptions o, float[] wIn, float[] wRec, float[] bias, float[] wOut, float[] bOut,
        float[] input, int steps, int batch, float[]? teacher) =>
        Forward(o, ToDouble(wIn), ToDouble(wRec), ToDouble(bias), ToDouble(wOut), ToDouble(bOut), ToDouble(input), steps, batch, null, teacher, teacher is null ? null : t => true);

    /// <summary>
    /// Step by step: h_t = f_hid(W_in x_t + W_rec ŷ_{t−1} + b), y_t = f_out(W_out h_t + b_out) (empty biases: none), where
    /// ŷ_{−1} is <paramref name="initial"/> [B, O] (null: zeros) and, for t ≥ 1, ŷ_{t−1} = targets[t−1] when
    /// <paramref name="forced"/>(t), else the network's own y_{t−1}. Returns y [T, B, O].
    /// </summary>
    public static double[] Forward(
        JordanNetworkOptions o, double[] wIn, double[] wRec, double[] bias, double[] wOut, double[] bOut,
        double[] input, int steps, int batch, double[]? initial, float[]? targets, Func<int, bool>? forced)
    {
        int x = o.InputSize, h = o.HiddenSize, n = o.OutputSize;
        var output = new double[steps * batch * n];
        for (int b = 0; b < batch; b++)
        {
            double[] previous = initial is null ? new double[n] : initial.AsSpan(b * n, n).ToArray();
            for (int t = 0; t < steps; t++)
            {
                if (t > 0 && forced is not null && forced(t))
                {
                    for (int k = 0; k < n; k++)
                    {
                        previous[k] = targets![((((t - 1) * batch) + b) * n) + k];
                    }
                }

                var hidden = new double[h];
                for (int i = 0; i < h; i++)
                {
                    double a = bias.Length > 0 ? bias[i] : 0;
                    for (int k = 0; k < x; k++)
                    {
                        a += wIn[(i * x) + k] * input[(((t * batch) + b) * x) + k];
                    }

                    for (int k = 0; k < n; k++)
                    {
                        a += wRec[(i * n) + k] * previous[k];
                    }

                    hidden[i] = Activate(o.HiddenActivation, a);
                }

                previous = Dense(wOut, bOut, o.OutputActivation, hidden, n);
                previous.CopyTo(output, ((t * batch) + b) * n);
            }
        }

        return output;
    }

    private static double[] ToDouble(float[] values) => [.. values.Select(v => (double)v)];
}
