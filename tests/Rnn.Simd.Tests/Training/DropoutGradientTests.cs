using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Tests.Reference;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// Dropout between layers, on the output, on W_hh (weight drop), variational dropout of every layer's input and of
/// h_{t−1} in the recurrent products, with the masks held fixed: the engine's forward
/// pass against a plain double-precision reference that runs the stack layer by layer (<see cref="ReferenceRecurrent"/>
/// one layer at a time), multiplying each layer's output and every W_hh by the same masks, and the engine's
/// backward pass against central differences of that reference. Tolerances: <see cref="FiniteDifference"/>.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class DropoutGradientTests(ITestOutputHelper output)
{
    private const int Steps = 4, Batch = 3;
    private const long Step = 5;
    private static readonly int[] s_lengths = [2, 4, 0];
    private static readonly DropoutOptions s_dropout = new() { Dropout = 0.5f, OutputDropout = 0.3f, WeightDrop = 0.4f, InputDropout = 0.35f, RecurrentDropout = 0.45f, Seed = 17 };

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string name in BuildCases().Keys)
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_WithMasksHeldFixed_MatchesCentralDifferencesOfTheMaskedReference(string name)
    {
        (RecurrentNetworkOptions o, bool withLengths) = BuildCases()[name];
        var run = new RecurrentGradientCase(o, Steps, Batch, withLengths ? s_lengths : null, dataSeed: 23, parameterSeed: 8, configure: network =>
        {
            network.Dropout = s_dropout;
            network.DropoutStep = Step;
        });
        Assert.Equal(Step + 1, run.Network.DropoutStep);

        // The masks really drop something here, so a gradient that ignored them would fail.
        Masks masks = MasksOf(o, s_dropout, Step, run.Output.Length);
        Assert.Contains(0f, masks.Outputs[^1]!);
        Assert.Contains(0f, masks.Outputs[0]!);
        Assert.Contains(0f, masks.WeightHh[0]);
        Assert.Contains(0f, masks.Inputs[1]!);
        Assert.Contains(0f, masks.Recurrent[0]);
        double[]? c0 = run.Lstm ? run.C0 : null;
        Assert.NotEqual(FiniteDifference.ToDouble(run.Output), ReferenceRecurrent.Forward(o, run.P, run.X, Steps, Batch, run.H0, c0, run.Lengths).Output);

        run.CheckAll(output, name, () => MaskedReference(o, run.P, run.X, run.H0, c0, run.Lengths, masks));
    }

    /// <summary>The masks of one forward pass, as the counter-based generator defines them (held fixed by the checks).</summary>
    internal sealed record Masks(float[]?[] Outputs, float[][] WeightHh, float[]?[] Inputs, float[][] Recurrent);

    internal static Masks MasksOf(RecurrentNetworkOptions o, DropoutOptions d, long step, int outputLength)
    {
        var outputs = new float[]?[o.Layers];
        for (int layer = 0; layer < o.Layers; layer++)
        {
            float rate = layer == o.Layers - 1 ? d.OutputDropout : d.Dropout;
            if (rate > 0)
            {
                outputs[layer] = new float[outputLength];
                DropoutMask.Fill(outputs[layer], rate, DropoutMask.Key(d.Seed, step, DropoutMask.LayerOutput, layer));
            }
        }

        var weights = new float[o.Layers * o.Directions][];
        for (int state = 0; state < weights.Length; state++)
        {
            weights[state] = new float[o.Gates * o.HiddenSize * o.OutputSize];
            if (d.WeightDrop > 0)
            {
                DropoutMask.Fill(weights[state], d.WeightDrop, DropoutMask.Key(d.Seed, step, DropoutMask.WeightDrop, state));
            }
            else
            {
                weights[state].AsSpan().Fill(1f);
            }
        }

        var inputs = new float[]?[o.Layers];
        for (int layer = 0; layer < o.Layers && d.InputDropout > 0; layer++)
        {
            inputs[layer] = new float[Batch * (layer == 0 ? o.InputSize : o.LayerOutputSize)];
            DropoutMask.Fill(inputs[layer], d.InputDropout, DropoutMask.Key(d.Seed, step, DropoutMask.Input, layer));
        }

        var recurrent = new float[o.Layers * o.Directions][];
        for (int state = 0; state < recurrent.Length; state++)
        {
            recurrent[state] = new float[Batch * o.OutputSize];
            DropoutMask.Fill(recurrent[state], d.RecurrentDropout, DropoutMask.Key(d.Seed, step, DropoutMask.Recurrent, state));
        }

        return new Masks(outputs, weights, inputs, recurrent);
    }

    /// <summary>
    /// The stack one layer at a time through the double reference: W_hh ⊙ its mask, each layer's output ⊙ its mask
    /// before the next layer (or the caller) reads it; h_n and c_n are the states the layers produced.
    /// </summary>
    internal static ReferenceRecurrent.Result MaskedReference(
        RecurrentNetworkOptions o, Dictionary<string, double[]> p, double[] x, double[] h0, double[]? c0, int[]? lengths, Masks masks)
    {
        int d = o.Directions, stateH = Batch * o.OutputSize, stateC = Batch * o.HiddenSize;
        var hN = new List<double>();
        var cN = new List<double>();
        double[] input = x;
        int inputSize = o.InputSize;
        for (int layer = 0; layer < o.Layers; layer++)
        {
            if (masks.Inputs[layer] is { } inputMask)
            {
                // Variational: the row of sequence b is multiplied by the same mask at every step t.
                var dropped = new double[input.Length];
                for (int i = 0; i < input.Length; i++)
                {
                    dropped[i] = input[i] * inputMask[i % inputMask.Length];
                }

                input = dropped;
            }

            RecurrentNetworkOptions one = o with { Layers = 1, InputSize = inputSize };
            var q = new Dictionary<string, double[]>(StringComparer.Ordinal);
            for (int dir = 0; dir < d; dir++)
            {
                string reverse = dir == 1 ? "_reverse" : "";
                foreach (string tensor in (string[])["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"])
                {
                    if (p.TryGetValue($"{tensor}_l{layer}{reverse}", out double[]? value))
                    {
                        q[$"{tensor}_l0{reverse}"] = tensor == "weight_hh" ? Multiply(value, masks.WeightHh[(layer * d) + dir]) : value;
                    }
                }
            }

            ReferenceRecurrent.Result r = ReferenceRecurrent.Forward(
                one, q, input, Steps, Batch, h0[(layer * d * stateH)..((layer + 1) * d * stateH)],
                c0 is null ? null : c0[(layer * d * stateC)..((layer + 1) * d * stateC)], lengths, masks.Recurrent[(layer * d)..((layer + 1) * d)]);
            hN.AddRange(r.HN);
            cN.AddRange(r.CN);
            input = masks.Outputs[layer] is { } mask ? Multiply(r.Output, mask) : r.Output;
            inputSize = o.LayerOutputSize;
        }

        return new ReferenceRecurrent.Result(input, [.. hN], [.. cN]);
    }

    private static double[] Multiply(double[] values, float[] mask)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i] * mask[i];
        }

        return result;
    }

    private static Dictionary<string, (RecurrentNetworkOptions, bool)> BuildCases()
    {
        var cases = new Dictionary<string, (RecurrentNetworkOptions, bool)>(StringComparer.Ordinal);
        foreach (RecurrentNetworkOptions architecture in TestNetworks.Architectures(input: 3, hidden: 6, layers: 2))
        {
            string cell = architecture.Cell switch
            {
                CellType.Rnn => $"rnn_{architecture.Nonlinearity.ToString().ToLowerInvariant()}",
                CellType.Lstm => architecture.ProjectionSize > 0 ? "lstm_proj" : "lstm",
                _ => architecture.GruVariant == GruVariant.ResetAfter ? "gru_reset_after" : "gru_reset_before",
            };
            cases.Add($"{cell} l2", (architecture, false));
            cases.Add($"{cell} l2 bidir lengths", (architecture with { Bidirectional = true }, true));
        }

        return cases;
    }
}
