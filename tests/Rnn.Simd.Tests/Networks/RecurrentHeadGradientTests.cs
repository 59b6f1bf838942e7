using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Networks;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Reference;
using Rnn.Simd.Tests.Training;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Networks;

/// <summary>
/// The whole model's training pass (embedding, recurrent stack, head, mean cross-entropy) against central differences
/// of an independent double-precision reference of the same loss: <see cref="ReferenceRecurrent"/> for the stack, the
/// embedding, head and loss written out below. Every parameter tensor; float and token input; LSTM, GRU and Elman;
/// bidirectional and stacked; per-sequence lengths (with an empty sequence) and an ignored label. Tolerances:
/// <see cref="FiniteDifference"/>.
/// </summary>
[Trait("Category", "Networks")]
public sealed class RecurrentHeadGradientTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, HeadCase> s_cases = BuildCases();

    public static TheoryData<string> Cases() => new(s_cases.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardBackward_MatchesCentralDifferencesOfTheDoubleReference(string name)
    {
        HeadCase c = s_cases[name];
        SequenceModel model = c.CreateModel(seed: 5);
        try
        {
            (float[] input, int[] tokens, int[] labels) = c.Data(seed: 9);
            ParameterSet set = model.Parameters;
            TrainingResult result = HeadCase.Train(model, input, tokens, c.Steps, c.Batch, labels, c.Lengths);

            Dictionary<string, double[]> p = set.Tensors.ToDictionary(t => t.Name, t => FiniteDifference.ToDouble(set.Value(t)));
            double[] x = FiniteDifference.ToDouble(input);
            double Loss() => ReferenceLoss(c, p, x, tokens, labels);
            Assert.True(Math.Abs(result.Loss - Loss()) <= 1e-5, $"loss {result.Loss:R}, reference {Loss():R}");

            double worst = 0;
            foreach (ParameterTensor tensor in set.Tensors)
            {
                worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} {tensor.Name}", Loss, p[tensor.Name], set.Gradient(tensor)).MaxRelativeError);
            }

            output.WriteLine($"{name}: worst error over every gradient {worst:E2}");
        }
        finally
        {
            HeadCase.Dispose(model);
        }
    }

    [Fact]
    public void ForwardBackward_CalledTwice_AddsTwiceTheGradient()
    {
        HeadCase c = s_cases["classifier lstm tokens bidir l2 lengths"];
        SequenceModel model = c.CreateModel(seed: 5);
        try
        {
            (float[] input, int[] tokens, int[] labels) = c.Data(seed: 9);
            HeadCase.Train(model, input, tokens, c.Steps, c.Batch, labels, c.Lengths);
            float[] once = model.Parameters.Gradients.ToArray();
            HeadCase.Train(model, input, tokens, c.Steps, c.Batch, labels, c.Lengths);
            float[] twice = model.Parameters.Gradients.ToArray();
            Assert.Contains(once, g => g != 0);
            for (int i = 0; i < once.Length; i++)
            {
                // A tensor's gradient sums several terms (steps, directions), so the second call's sum rounds apart.
                Assert.True(Math.Abs(twice[i] - (2 * once[i])) <= (1e-5 * Math.Abs(once[i])) + 1e-9, $"gradient {i}: once {once[i]:R}, twice {twice[i]:R}");
            }
        }
        finally
        {
            HeadCase.Dispose(model);
        }
    }

    /// <summary>The model's mean cross-entropy in double, read from the (perturbable) arrays of <paramref name="p"/>.</summary>
    private static double ReferenceLoss(HeadCase c, Dictionary<string, double[]> p, double[] features, int[] tokens, int[] labels)
    {
        RecurrentNetworkOptions stack = c.Options.Stack;
        int steps = c.Steps, batch = c.Batch, classes = c.Options.Classes;
        double[] x = features;
        if (c.Tokens)
        {
            int e = c.Options.EmbeddingSize;
            double[] table = p["embedding.weight"];
            x = new double[tokens.Length * e];
            for (int i = 0; i < tokens.Length; i++)
            {
                Array.Copy(table, tokens[i] * e, x, i * e, e);
            }
        }

        var rnn = p.Where(kv => kv.Key.StartsWith("rnn.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key["rnn.".Length..], kv => kv.Value);
        ReferenceRecurrent.Result r = ReferenceRecurrent.Forward(stack, rnn, x, steps, batch, lengths: c.Lengths);
        double[] w = p["head.weight"], bias = p["head.bias"];
        int hOut = stack.OutputSize, d = stack.Directions;
        int inputs = c.Tagger ? stack.LayerOutputSize : d * hOut;
        double sum = 0;
        int counted = 0;
        for (int row = 0; row < labels.Length; row++)
        {
            int b = row % batch, t = row / batch;
            bool valid = !c.Tagger || c.Lengths is null || t < c.Lengths[b];
            if (!valid || labels[row] == Losses.DefaultIgnoreIndex)
            {
                continue;
            }

            var z = new double[inputs];
            if (c.Tagger)
            {
                Array.Copy(r.Output, row * inputs, z, 0, inputs);
            }
            else
            {
                for (int dir = 0; dir < d; dir++)
                {
                    Array.Copy(r.HN, ((((stack.Layers - 1) * d) + dir) * batch + b) * hOut, z, dir * hOut, hOut);
                }
            }

            var logits = new double[classes];
            for (int k = 0; k < classes; k++)
            {
                logits[k] = bias[k];
                for (int j = 0; j < inputs; j++)
                {
                    logits[k] += w[(k * inputs) + j] * z[j];
                }
            }

            double max = logits.Max();
            double logSum = max + Math.Log(logits.Sum(v => Math.Exp(v - max)));
            sum += logSum - logits[labels[row]];
            counted++;
        }

        return sum / counted;
    }

    private static Dictionary<string, HeadCase> BuildCases()
    {
        var lstm = new RecurrentNetworkOptions { Cell = CellType.Lstm, InputSize = 3, HiddenSize = 4 };
        var gru = new RecurrentNetworkOptions { Cell = CellType.Gru, HiddenSize = 4 };   // InputSize follows from the input stage
        var elman = new RecurrentNetworkOptions { Cell = CellType.Rnn, HiddenSize = 4 };
        int[] lengths = [2, 4, 0];
        var cases = new List<HeadCase>();
        foreach (bool tagger in new[] { false, true })
        {
            string kind = tagger ? "tagger" : "classifier";
            cases.Add(HeadCase.Make($"{kind} lstm features lengths", tagger, lstm, tokens: false, lengths: lengths));
            cases.Add(HeadCase.Make($"{kind} gru tokens", tagger, gru with { InputSize = 3 }, tokens: true));
            cases.Add(HeadCase.Make($"{kind} lstm tokens bidir l2 lengths", tagger, lstm with { Bidirectional = true, Layers = 2 }, tokens: true, lengths: lengths));
            cases.Add(HeadCase.Make($"{kind} gru features bidir lengths", tagger, gru with { InputSize = 3, Bidirectional = true }, tokens: false, lengths: lengths));
            cases.Add(HeadCase.Make($"{kind} lstm proj features bidir_sum", tagger, lstm with { HiddenSize = 5, ProjectionSize = 2, Bidirectional = true, Merge = DirectionMerge.Sum }, tokens: false));
            cases.Add(HeadCase.Make($"{kind} gru features bidir_sum l2 lengths", tagger, gru with { InputSize = 3, Bidirectional = true, Merge = DirectionMerge.Sum, Layers = 2 }, tokens: false, lengths: lengths));
            cases.Add(HeadCase.Make($"{kind} elman tokens l2 lengths", tagger, elman with { InputSize = 3, Layers = 2 }, tokens: true, lengths: lengths));
        }

        return cases.ToDictionary(c => c.Name, StringComparer.Ordinal);
    }
}
