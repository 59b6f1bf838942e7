using System.Globalization;
using Rnn.Simd.Cells;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Training;

namespace Rnn.Simd.Cli.Demo;

/// <summary>
/// The demo's experiments (the seeds' claims: Elman's temporal XOR, the adding problem for four models, the embedded
/// Reber grammar) at the full budget of the Claims tests or a much smaller one for smoke tests, and the verdicts.
/// </summary>
internal static class DemoPlan
{
    /// <summary>An adding-problem run counts as solved below this test MSE (the mean predictor scores 0.167).</summary>
    public const double AddingSolvedMse = 0.01;

    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    /// <summary>The experiments, in the order they run.</summary>
    public static IReadOnlyList<DemoExperiment> Experiments(ulong seed, bool quick)
    {
        var xor = new TemporalXor.Config
        {
            Hidden = 16, Window = 6, Batch = 32, Updates = quick ? 100 : 2000, LearningRate = 1e-2, TestSteps = quick ? 300 : 3000, Seed = seed,
        };
        var adding = new AddingProblem.Config
        {
            Hidden = 32, Steps = 50, Batch = 32, Updates = quick ? 20 : 1500, MaxGradientNorm = 1.0, TestBatches = quick ? 2 : 32, Seed = seed,
        };
        var reber = new EmbeddedReber.Config { Hidden = 16, Batch = 32, Updates = quick ? 30 : 1000, LearningRate = 1e-2, TestBatches = quick ? 2 : 32, Seed = seed };
        return
        [
            new("xor", "temporal XOR", "Elman (sigmoid)", xor.Updates, (progress, threads) => TemporalXorRun(xor, progress, threads)),
            Adding("adding-tanh", "Elman (tanh)", adding with { Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Tanh, LearningRate = 0.02 }),
            Adding("adding-irnn", "IRNN (ReLU, W_hh = I)", adding with
            {
                Cell = CellType.Rnn, Nonlinearity = Nonlinearity.Relu, Initialization = RecurrentInitialization.IdentityRelu(1.0), LearningRate = 0.002,
            }),
            Adding("adding-lstm", "LSTM", adding with { Cell = CellType.Lstm, LearningRate = 0.02 }),
            Adding("adding-gru", "GRU", adding with { Cell = CellType.Gru, LearningRate = GruLearningRate }),
            new("reber", "embedded Reber", "LSTM", reber.Updates, (progress, threads) => EmbeddedReberRun(reber, progress, threads)),
        ];
    }

    /// <summary>The GRU's Adam learning rate on the adding problem.</summary>
    public const double GruLearningRate = 0.01;

    /// <summary>One line per claim of the seeds, decided on <paramref name="runs"/> (those of <see cref="Experiments"/>).</summary>
    public static IReadOnlyList<DemoClaim> Claims(IReadOnlyList<DemoRun> runs)
    {
        DemoRun Find(string key) => runs.Single(r => r.Key == key);
        DemoRun xor = Find("xor"), tanh = Find("adding-tanh"), irnn = Find("adding-irnn"), lstm = Find("adding-lstm"), gru = Find("adding-gru");
        DemoRun reber = Find("reber");
        double xorMse = xor.Metrics["xor_bit_mse"], randomMse = xor.Metrics["random_bit_mse"];
        double vanishing = tanh.Metrics["grad_ratio_at_start"];
        double mean = AddingProblem.MeanPredictorMse;
        return
        [
            new(F($"Elman's network learns the temporal XOR: MSE {xorMse:F3} on the XOR bits vs {randomMse:F3} on the random bits (chance 0.250)"), xor.Solved),
            new(
                F($"tanh Elman fails the adding problem (test MSE {tanh.TestMse:F3} vs mean predictor {mean:F3}); its gradient vanishes: ‖dL/dh_0‖ / ‖dL/dh_T-1‖ = {vanishing:0.0E+0} at initialisation"),
                tanh.TestMse > 0.1 && vanishing < 1e-3),
            new(F($"LSTM solves the adding problem (test MSE {lstm.TestMse:F4} vs mean predictor {mean:F3})"), lstm.Solved),
            new(F($"IRNN beats tanh Elman on the adding problem (test MSE {irnn.TestMse:F4} vs {tanh.TestMse:F3})"), irnn.TestMse < 0.5 * tanh.TestMse && irnn.TestMse < 0.05),
            new(F($"GRU solves the adding problem (test MSE {gru.TestMse:F4} vs mean predictor {mean:F3})"), gru.Solved),
            new(
                F($"LSTM learns the embedded Reber grammar ({reber.Accuracy:P1} of held-out strings right at every step, penultimate symbol {reber.Metrics["penultimate_accuracy"]:P1})"),
                reber.Solved),
        ];
    }

    private static DemoExperiment Adding(string key, string cell, AddingProblem.Config c) =>
        new(key, F($"adding problem (T = {c.Steps})"), cell, c.Updates, (progress, threads) =>
        {
            AddingProblem.Result r = AddingProblem.Run(c, progress, threads);
            var metrics = new Dictionary<string, double>
            {
                ["learning_rate"] = c.LearningRate,
                ["grad_ratio_at_start"] = r.NormsAtStart[0] / r.NormsAtStart[^1],
                ["grad_ratio_after"] = r.NormsAfter[0] / r.NormsAfter[^1],
            };
            foreach ((string name, double value) in r.Reduced)
            {
                metrics[name] = value;
            }

            return new DemoRun(key, F($"adding problem (T = {c.Steps})"), cell, c.Updates, r.LastTrainingLoss, null, r.TestMse, r.TestMse < AddingSolvedMse, r.Seconds, r.Weights, metrics)
            {
                NormsAtStart = r.NormsAtStart,
                NormsAfter = r.NormsAfter,
            };
        });

    private static DemoRun TemporalXorRun(TemporalXor.Config c, Action<int, double>? progress, ThreadTeam? threads)
    {
        TemporalXor.Result r = TemporalXor.Run(c, progress, threads);
        var metrics = new Dictionary<string, double> { ["xor_bit_mse"] = r.PredictableMse, ["random_bit_mse"] = r.RandomMse };
        bool solved = r.PredictableMse < 0.05 && r.RandomMse > 0.15;
        return new DemoRun("xor", "temporal XOR", "Elman (sigmoid)", c.Updates, r.LastTrainingLoss, r.PredictableAccuracy, null, solved, r.Seconds, r.Weights, metrics);
    }

    private static DemoRun EmbeddedReberRun(EmbeddedReber.Config c, Action<int, double>? progress, ThreadTeam? threads)
    {
        EmbeddedReber.Result r = EmbeddedReber.Run(c, progress, threads);
        var metrics = new Dictionary<string, double>
        {
            ["penultimate_accuracy"] = r.PenultimateAccuracy,
            ["strings_correct_at_half"] = r.StringsCorrectAtHalf,
            ["test_strings"] = r.TestStrings,
        };
        foreach ((string name, double value) in r.Reduced)
        {
            metrics[name] = value;
        }

        bool solved = r.StringsCorrect >= 0.95 && r.PenultimateAccuracy >= 0.95;
        return new DemoRun("reber", "embedded Reber", "LSTM", c.Updates, r.LastTrainingLoss, r.StringsCorrect, null, solved, r.Seconds, r.Weights, metrics);
    }

    private static string F(FormattableString s) => s.ToString(s_invariant);
}
