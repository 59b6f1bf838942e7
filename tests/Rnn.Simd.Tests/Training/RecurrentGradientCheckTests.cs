using Rnn.Simd.Cells;
using Rnn.Simd.Layers;
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
        var run = new RecurrentGradientCase(o, Steps, Batch, withLengths ? s_lengths : null, dataSeed: 11, parameterSeed: 7);
        double worst = run.CheckAll(output, name, () => ReferenceRecurrent.Forward(o, run.P, run.X, Steps, Batch, run.H0, run.Lstm ? run.C0 : null, run.Lengths));
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
