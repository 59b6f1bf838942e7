using Rnn.Simd.Cells;
using Rnn.Simd.Layers;

namespace Rnn.Simd.Tests.Reference;

/// <summary>
/// The recurrent stack in plain double loops, written from the equations (PyTorch's nn.RNN, nn.LSTM, nn.GRU
/// documentation and seeds 002–004), not from the engine: the independent ground truth of the finite-difference
/// gradient checks. Slow and allocating on purpose: every step is spelled out.
/// </summary>
/// <remarks>
/// Parameters are PyTorch's tensors by name (<c>weight_ih_l{k}[_reverse]</c> [G·H, In], <c>weight_hh_l{k}</c>
/// [G·H, Hout], <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c> [G·H] (optional), <c>weight_hr_l{k}</c> [P, H]), with PyTorch's
/// gate orders: LSTM rows i, f, g, o; GRU rows r, z, n. Input [T, B, X] time-major; output [T, B, F]; h0, hN
/// [L·D, B, Hout]; c0, cN [L·D, B, H]. Per-sequence lengths follow PyTorch's packed sequences: a sequence of length
/// len runs steps 0 … len−1 only; its outputs at t ≥ len are 0; its final state is the state after its last step
/// (h0 when len = 0); the reverse direction starts at t = len − 1 from its own h0 and ends at t = 0.
/// </remarks>
internal static class ReferenceRecurrent
{
    /// <summary>What a forward pass returns: output [T, B, F], hN [L·D, B, Hout], cN [L·D, B, H] (LSTM, else empty).</summary>
    public sealed record Result(double[] Output, double[] HN, double[] CN);

    public static Result Forward(
        RecurrentNetworkOptions o, IReadOnlyDictionary<string, double[]> p, double[] input, int steps, int batch,
        double[]? h0 = null, double[]? c0 = null, int[]? lengths = null, IReadOnlyList<float[]>? recurrentMasks = null)
    {
        int h = o.HiddenSize;
        int hOut = o.ProjectionSize > 0 ? o.ProjectionSize : h;
        int directions = o.Bidirectional ? 2 : 1;
        bool concat = o.Bidirectional && o.Merge == DirectionMerge.Concatenate;
        int features = concat ? 2 * hOut : hOut;
        bool lstm = o.Cell == CellType.Lstm;
        var hN = new double[o.Layers * directions * batch * hOut];
        double[] cN = lstm ? new double[o.Layers * directions * batch * h] : [];

        double[] layerInput = input;
        int inputSize = o.InputSize;
        for (int layer = 0; layer < o.Layers; layer++)
        {
            var layerOutput = new double[steps * batch * features];   // padded steps stay 0
            for (int dir = 0; dir < directions; dir++)
            {
                int state = (layer * directions) + dir;
                string suffix = $"_l{layer}{(dir == 1 ? "_reverse" : "")}";
                var w = new Weights(
                    p["weight_ih" + suffix], p["weight_hh" + suffix],
                    p.GetValueOrDefault("bias_ih" + suffix), p.GetValueOrDefault("bias_hh" + suffix),
                    o.ProjectionSize > 0 ? p["weight_hr" + suffix] : null);
                for (int b = 0; b < batch; b++)
                {
                    int length = lengths is null ? steps : lengths[b];
                    double[] hState = Slice(h0, (state * batch) + b, hOut);
                    double[] cState = Slice(c0, (state * batch) + b, lstm ? h : 0);
                    for (int s = 0; s < length; s++)
                    {
                        int t = dir == 1 ? length - 1 - s : s;
                        double[] x = layerInput.AsSpan(((t * batch) + b) * inputSize, inputSize).ToArray();

                        // Recurrent dropout (training): the recurrent products read h ⊙ m; GRU's z ⊙ h reads h.
                        double[] hRecurrent = recurrentMasks is null ? hState : [.. hState.Select((v, j) => v * recurrentMasks[state][(b * hOut) + j])];
                        (hState, cState) = o.Cell switch
                        {
                            CellType.Rnn => (ElmanStep(o.Nonlinearity, w, x, hRecurrent), cState),
                            CellType.Lstm => LstmStep(h, w, x, hRecurrent, cState),
                            _ => (GruStep(o.GruVariant, h, w, x, hState, hRecurrent), cState),
                        };

                        int at = (((t * batch) + b) * features) + (concat && dir == 1 ? hOut : 0);
                        for (int j = 0; j < hOut; j++)
                        {
                            // Concatenate: each direction writes its half; sum: the directions add.
                            layerOutput[at + j] = concat || dir == 0 ? hState[j] : layerOutput[at + j] + hState[j];
                        }
                    }

                    hState.CopyTo(hN, ((state * batch) + b) * hOut);
                    cState.CopyTo(cN, ((state * batch) + b) * cState.Length);
                }
            }

            layerInput = layerOutput;
            inputSize = features;
        }

        return new Result(layerInput, hN, cN);
    }

    /// <summary>One direction's tensors; biases may be absent (zero), W_hr present only with a projection.</summary>
    private sealed record Weights(double[] Ih, double[] Hh, double[]? BiasIh, double[]? BiasHh, double[]? Hr);

    /// <summary>Elman (nn.RNN): h' = f(W_ih x + b_ih + W_hh h + b_hh).</summary>
    private static double[] ElmanStep(Nonlinearity f, Weights w, double[] x, double[] hPrev)
    {
        double[] a = Add(Affine(w.Ih, w.BiasIh, x), Affine(w.Hh, w.BiasHh, hPrev));
        return [.. a.Select(v => ReferenceJordan.Activate(f, v))];
    }

    /// <summary>
    /// nn.LSTM: (i, f, g, o) = (σ, σ, tanh, σ)(W_ih x + b_ih + W_hh h + b_hh), rows in that order;
    /// c' = f ⊙ c + i ⊙ g; m = o ⊙ tanh(c'); h' = W_hr m with a projection, else m.
    /// </summary>
    private static (double[] H, double[] C) LstmStep(int hidden, Weights w, double[] x, double[] hPrev, double[] cPrev)
    {
        double[] a = Add(Affine(w.Ih, w.BiasIh, x), Affine(w.Hh, w.BiasHh, hPrev));
        var c = new double[hidden];
        var m = new double[hidden];
        for (int j = 0; j < hidden; j++)
        {
            double i = Sigmoid(a[j]);
            double f = Sigmoid(a[hidden + j]);
            double g = Math.Tanh(a[(2 * hidden) + j]);
            double o = Sigmoid(a[(3 * hidden) + j]);
            c[j] = (f * cPrev[j]) + (i * g);
            m[j] = o * Math.Tanh(c[j]);
        }

        return (w.Hr is null ? m : Affine(w.Hr, null, m), c);
    }

    /// <summary>
    /// nn.GRU, rows r, z, n: r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    /// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) (reset after, PyTorch) or
    /// n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn) (reset before, Cho et al. / ONNX default);
    /// h' = (1 − z) ⊙ n + z ⊙ h.
    /// </summary>
    private static double[] GruStep(GruVariant variant, int hidden, Weights w, double[] x, double[] hPrev, double[] hRecurrent)
    {
        int hOut = hPrev.Length;
        double[] gi = Affine(w.Ih, w.BiasIh, x);
        double[] gh = Affine(w.Hh, w.BiasHh, hRecurrent);
        var next = new double[hidden];
        var r = new double[hidden];
        for (int j = 0; j < hidden; j++)
        {
            r[j] = Sigmoid(gi[j] + gh[j]);
        }

        for (int j = 0; j < hidden; j++)
        {
            double z = Sigmoid(gi[hidden + j] + gh[hidden + j]);
            double recurrent;
            if (variant == GruVariant.ResetAfter)
            {
                recurrent = r[j] * gh[(2 * hidden) + j];
            }
            else
            {
                // W_hn is rows 2H … 3H−1 of W_hh; b_hn stays outside the product.
                recurrent = w.BiasHh is null ? 0 : w.BiasHh[(2 * hidden) + j];
                for (int k = 0; k < hOut; k++)
                {
                    recurrent += w.Hh[(((2 * hidden) + j) * hOut) + k] * (r[k] * hRecurrent[k]);
                }
            }

            double n = Math.Tanh(gi[(2 * hidden) + j] + recurrent);
            next[j] = ((1 - z) * n) + (z * hPrev[j]);
        }

        return next;
    }

    /// <summary>W v + b for W [rows, v.Length] row-major; b may be absent.</summary>
    private static double[] Affine(double[] w, double[]? b, double[] v)
    {
        int cols = v.Length, rows = w.Length / cols;
        var y = new double[rows];
        for (int j = 0; j < rows; j++)
        {
            double sum = b is null ? 0 : b[j];
            for (int k = 0; k < cols; k++)
            {
                sum += w[(j * cols) + k] * v[k];
            }

            y[j] = sum;
        }

        return y;
    }

    private static double[] Add(double[] a, double[] b) => [.. a.Select((v, i) => v + b[i])];

    private static double Sigmoid(double a) => 1 / (1 + Math.Exp(-a));

    /// <summary>Row <paramref name="row"/> of a [rows, size] state tensor, or zeros when there is none.</summary>
    private static double[] Slice(double[]? all, int row, int size) =>
        all is null ? new double[size] : all.AsSpan(row * size, size).ToArray();
}
