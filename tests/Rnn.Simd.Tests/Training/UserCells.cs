using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;

namespace Rnn.Simd.Tests.Training;

// ---- README: "Your own cell" (begin) ----
/// <summary>Elman's cell written by hand: h = tanh(W_ih x + b_ih + W_hh h_{t−1} + b_hh), PyTorch's tensor names.</summary>
public sealed class HandElmanCell(int inputSize, int hiddenSize) : IRecurrentCell
{
    public int InputSize => inputSize;
    public int StateSize => hiddenSize;
    public int OutputSize => hiddenSize;
    public int RecordSize => 0;                 // backward needs only h_t (tanh' = 1 − h²)
    public int ScratchSize => hiddenSize;       // dL/da

    public IReadOnlyList<ParameterSpec> Parameters { get; } =
    [
        new("weight_ih", [hiddenSize, inputSize], ParameterRole.InputWeight),
        new("weight_hh", [hiddenSize, hiddenSize], ParameterRole.RecurrentWeight),
        new("bias_ih", [hiddenSize], ParameterRole.InputBias),
        new("bias_hh", [hiddenSize], ParameterRole.RecurrentBias),
    ];

    public void Forward(in CellStep s)
    {
        ReadOnlySpan<float> wIh = s.Parameter(0), wHh = s.Parameter(1), bIh = s.Parameter(2), bHh = s.Parameter(3);
        for (int i = 0; i < hiddenSize; i++)
        {
            float a = bIh[i] + bHh[i];
            for (int j = 0; j < inputSize; j++) a += wIh[(i * inputSize) + j] * s.Input[j];
            for (int j = 0; j < hiddenSize; j++) a += wHh[(i * hiddenSize) + j] * s.PreviousState[j];
            s.State[i] = MathF.Tanh(a);
        }
    }

    public void Backward(in CellGradientStep s)
    {
        ReadOnlySpan<float> wIh = s.Parameter(0), wHh = s.Parameter(1);
        Span<float> gIh = s.Gradient(0), gHh = s.Gradient(1), gBIh = s.Gradient(2), gBHh = s.Gradient(3), da = s.Scratch;
        for (int i = 0; i < hiddenSize; i++) da[i] = s.StateGradient[i] * (1 - (s.State[i] * s.State[i]));
        for (int i = 0; i < hiddenSize; i++)
        {
            gBIh[i] += da[i];
            gBHh[i] += da[i];
            for (int j = 0; j < inputSize; j++) { gIh[(i * inputSize) + j] += da[i] * s.Input[j]; s.InputGradient[j] += wIh[(i * inputSize) + j] * da[i]; }
            for (int j = 0; j < hiddenSize; j++) { gHh[(i * hiddenSize) + j] += da[i] * s.PreviousState[j]; s.PreviousStateGradient[j] += wHh[(i * hiddenSize) + j] * da[i]; }
        }
    }
}
// ---- README: "Your own cell" (end) ----

/// <summary>
/// The minimal gated unit (Zhou et al. 2016), written by hand: f = σ(W_f x + U_f h + b_f),
/// ĥ = tanh(W_h x + U_h (f ⊙ h) + b_h), h' = (1 − f) ⊙ h + f ⊙ ĥ. It keeps f and ĥ for backward.
/// </summary>
public sealed class MinimalGatedCell(int inputSize, int hiddenSize) : IRecurrentCell
{
    private readonly int _n = inputSize, _h = hiddenSize;

    public int InputSize => _n;

    public int StateSize => _h;

    public int OutputSize => _h;

    public int RecordSize => 2 * _h;           // f, ĥ

    public int ScratchSize => 4 * _h;          // f ⊙ h, dâ_h, df, d(f ⊙ h)

    public IReadOnlyList<ParameterSpec> Parameters { get; } =
    [
        new("weight_x", [2 * hiddenSize, inputSize], ParameterRole.InputWeight, GateBlocks: 2),     // W_f; W_h
        new("weight_f", [hiddenSize, hiddenSize], ParameterRole.RecurrentWeight),
        new("weight_h", [hiddenSize, hiddenSize], ParameterRole.RecurrentWeight),
        new("bias", [2 * hiddenSize], ParameterRole.InputBias, GateBlocks: 2),
    ];

    public void Forward(in CellStep s)
    {
        ReadOnlySpan<float> w = s.Parameter(0), uf = s.Parameter(1), uh = s.Parameter(2), b = s.Parameter(3);
        ReadOnlySpan<float> x = s.Input, h = s.PreviousState;
        Span<float> f = s.Record[.._h], cand = s.Record[_h..], fh = s.Scratch[.._h];
        for (int i = 0; i < _h; i++)
        {
            float a = b[i] + Dot(w.Slice(i * _n, _n), x) + Dot(uf.Slice(i * _h, _h), h);
            f[i] = 1f / (1f + MathF.Exp(-a));
            fh[i] = f[i] * h[i];
        }

        for (int i = 0; i < _h; i++)
        {
            float a = b[_h + i] + Dot(w.Slice((_h + i) * _n, _n), x) + Dot(uh.Slice(i * _h, _h), fh);
            cand[i] = MathF.Tanh(a);
            s.State[i] = ((1 - f[i]) * h[i]) + (f[i] * cand[i]);
        }
    }

    public void Backward(in CellGradientStep s)
    {
        ReadOnlySpan<float> w = s.Parameter(0), uf = s.Parameter(1), uh = s.Parameter(2);
        Span<float> gw = s.Gradient(0), guf = s.Gradient(1), guh = s.Gradient(2), gb = s.Gradient(3);
        ReadOnlySpan<float> x = s.Input, h = s.PreviousState, dh = s.StateGradient, f = s.Record[.._h], cand = s.Record[_h..];
        Span<float> fh = s.Scratch[.._h], dAh = s.Scratch.Slice(_h, _h), df = s.Scratch.Slice(2 * _h, _h), dFh = s.Scratch.Slice(3 * _h, _h);
        Span<float> dx = s.InputGradient, dPrev = s.PreviousStateGradient;
        for (int i = 0; i < _h; i++)
        {
            fh[i] = f[i] * h[i];
            dAh[i] = dh[i] * f[i] * (1 - (cand[i] * cand[i]));
            df[i] = dh[i] * (cand[i] - h[i]);
            dPrev[i] += dh[i] * (1 - f[i]);
            dFh[i] = 0;
        }

        // The candidate's pre-activation: W_h x + U_h (f ⊙ h) + b_h.
        for (int i = 0; i < _h; i++)
        {
            gb[_h + i] += dAh[i];
            for (int j = 0; j < _n; j++)
            {
                gw[((_h + i) * _n) + j] += dAh[i] * x[j];
                dx[j] += w[((_h + i) * _n) + j] * dAh[i];
            }

            for (int j = 0; j < _h; j++)
            {
                guh[(i * _h) + j] += dAh[i] * fh[j];
                dFh[j] += uh[(i * _h) + j] * dAh[i];
            }
        }

        // f ⊙ h, then the gate's pre-activation W_f x + U_f h + b_f.
        for (int i = 0; i < _h; i++)
        {
            df[i] += dFh[i] * h[i];
            dPrev[i] += dFh[i] * f[i];
            df[i] *= f[i] * (1 - f[i]);
        }

        for (int i = 0; i < _h; i++)
        {
            gb[i] += df[i];
            for (int j = 0; j < _n; j++)
            {
                gw[(i * _n) + j] += df[i] * x[j];
                dx[j] += w[(i * _n) + j] * df[i];
            }

            for (int j = 0; j < _h; j++)
            {
                guf[(i * _h) + j] += df[i] * h[j];
                dPrev[j] += uf[(i * _h) + j] * df[i];
            }
        }
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}

/// <summary>A cell for inference only: its backward refuses.</summary>
public sealed class ForwardOnlyCell(int size) : IRecurrentCell
{
    public int InputSize => size;

    public int StateSize => size;

    public int OutputSize => size;

    public int RecordSize => 0;

    public int ScratchSize => 0;

    public IReadOnlyList<ParameterSpec> Parameters { get; } = [new("decay", [size], ParameterRole.RecurrentBias)];

    public void Forward(in CellStep s)
    {
        ReadOnlySpan<float> d = s.Parameter(0);
        for (int i = 0; i < size; i++)
        {
            s.State[i] = (d[i] * s.PreviousState[i]) + s.Input[i];
        }
    }

    public void Backward(in CellGradientStep step) => throw new NotSupportedException("ForwardOnlyCell does not train.");
}
