using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
using Rnn.Simd.Parameters;
using Rnn.Simd.Tests.Infrastructure;
using Rnn.Simd.Tests.Layers;
using Rnn.Simd.Tests.Reference;
using Rnn.Simd.Training;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Training;

/// <summary>
/// <see cref="TrainableRecurrentNetwork.Backward"/> against central differences of an independent double-precision
/// reference (<see cref="ReferenceRecurrent"/>): every parameter, input, h0 and c0 gradient of every architecture,
/// one and two directions (concatenated; summed for one layer), with and without per-sequence lengths. The loss is
/// L = Σ output ⊙ G + Σ h_n ⊙ G_h (+ Σ c_n ⊙ G_c), so its gradients are exactly what Backward receives and returns.
/// Tolerances: <see cref="FiniteDifference"/>.
/// </summary>
[Trait("Category", "Training")]
[Trait("Isa", "All")]
public sealed class RecurrentGradientCheckTests(ITestOutputHelper output)
{
    private const int Steps = 4, Batch = 3;

    // A padded sequence, a full one and an empty one (the engine takes lengths in [0, T]; PyTorch would refuse 0).
    private static readonly int[] s_lengths = [2, 4, 0];

    private static readonly Dictionary<string, (RecurrentNetworkOptions Options, bool Lengths)> s_cases = BuildCases();

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (string name in s_cases.Keys)
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Backward_MatchesCentralDifferencesOfTheDoubleReference(string name)
    {
        (RecurrentNetworkOptions o, bool withLengths) = s_cases[name];
        int states = o.Layers * o.Directions, hOut = o.OutputSize, features = o.LayerOutputSize;
        bool lstm = o.Cell == CellType.Lstm;
        var random = new TestRandom(11);
        Dictionary<string, float[]> parameters = TestNetworks.PyTorchParameters(o, 7);
        float[] x = random.Array(Steps * Batch * o.InputSize);
        float[] h0 = random.Array(states * Batch * hOut, -0.5f, 0.5f);
        float[] c0 = lstm ? random.Array(states * Batch * o.HiddenSize, -0.5f, 0.5f) : [];
        float[] g = random.Array(Steps * Batch * features), gH = random.Array(h0.Length), gC = random.Array(c0.Length);
        int[]? lengths = withLengths ? s_lengths : null;

        // The engine: a recording forward pass, then backward with the loss's upstream gradients.
        TrainableRecurrentNetwork network = TrainableRecurrentNetwork.FromPyTorch(o, parameters);
        using RecurrentTape tape = network.CreateTape();
        var y = new float[g.Length];
        var hN = new float[h0.Length];
        var cN = new float[c0.Length];
        network.Forward(tape, x, Steps, Batch, y, h0, c0, hN, cN, lengths);
        var gradX = new float[x.Length];
        var gradH0 = new float[h0.Length];
        var gradC0 = new float[c0.Length];
        network.Backward(tape, g, gH, gC, gradX, gradH0, gradC0);

        // The reference, in double, reading the arrays the checks perturb.
        Dictionary<string, double[]> p = parameters.ToDictionary(kv => kv.Key, kv => FiniteDifference.ToDouble(kv.Value));
        double[] xd = FiniteDifference.ToDouble(x), h0d = FiniteDifference.ToDouble(h0), c0d = FiniteDifference.ToDouble(c0);
        ReferenceRecurrent.Result Run() => ReferenceRecurrent.Forward(o, p, xd, Steps, Batch, h0d, lstm ? c0d : null, lengths);
        double Loss()
        {
            ReferenceRecurrent.Result r = Run();
            return FiniteDifference.Dot(r.Output, g) + FiniteDifference.Dot(r.HN, gH) + FiniteDifference.Dot(r.CN, gC);
        }

        ReferenceRecurrent.Result expected = Run();
        FiniteDifference.AssertClose(y, expected.Output, 1e-5, "output");
        FiniteDifference.AssertClose(hN, expected.HN, 1e-5, "h_n");
        FiniteDifference.AssertClose(cN, expected.CN, 1e-5, "c_n");

        double worst = 0;
        worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} input", Loss, xd, gradX).MaxRelativeError);
        worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} h0", Loss, h0d, gradH0).MaxRelativeError);
        if (lstm)
        {
            worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} c0", Loss, c0d, gradC0).MaxRelativeError);
        }

        foreach (ParameterTensor tensor in network.Parameters.Tensors)
        {
            worst = Math.Max(worst, FiniteDifference.Check(output, $"{name} {tensor.Name}", Loss, p[tensor.Name], network.Parameters.Gradient(tensor)).MaxRelativeError);
        }

        output.WriteLine($"{name}: worst error over every gradient {worst:E2}");
    }

    private static Dictionary<string, (RecurrentNetworkOptions, bool)> BuildCases()
    {
        var cases = new Dictionary<string, (RecurrentNetworkOptions, bool)>(StringComparer.Ordinal);

        // H = 6 so that the projected LSTM of TestNetworks (P = H − 4) projects to 2.
        foreach (RecurrentNetworkOptions architecture in TestNetworks.Architectures(input: 3, hidden: 6, layers: 2))
        {
            RecurrentNetworkOptions[] variants =
            [
                architecture,
                architecture with { Bidirectional = true },
                architecture with { Layers = 1, Bidirectional = true, Merge = DirectionMerge.Sum },   // PyTorch layouts stack only concatenated layers
            ];
            foreach (RecurrentNetworkOptions o in variants)
            {
                foreach (bool lengths in new[] { false, true })
                {
                    cases.Add($"{Describe(o)}{(lengths ? " lengths" : "")}", (o, lengths));
                }
            }
        }

        return cases;
    }

    private static string Describe(RecurrentNetworkOptions o)
    {
        string cell = o.Cell switch
        {
            CellType.Rnn => $"rnn_{o.Nonlinearity.ToString().ToLowerInvariant()}",
            CellType.Lstm => o.ProjectionSize > 0 ? $"lstm_proj{o.ProjectionSize}" : "lstm",
            _ => o.GruVariant == GruVariant.ResetAfter ? "gru_reset_after" : "gru_reset_before",
        };
        string directions = !o.Bidirectional ? "" : o.Merge == DirectionMerge.Sum ? " bidir_sum" : " bidir";
        return $"{cell} l{o.Layers}{directions}";
    }
}
