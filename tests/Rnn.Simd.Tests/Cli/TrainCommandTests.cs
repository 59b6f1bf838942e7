using System.Text;
using Rnn.Simd.Cli.Commands;
using Rnn.Simd.Cli.Data;
using Rnn.Simd.Cli.Runs;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels;
using Rnn.Simd.Networks;
using Rnn.Simd.Training;

namespace Rnn.Simd.Tests.Cli;

/// <summary>
/// <c>rnn-simd train</c> and <c>sample</c> as a user runs them: a run stopped (Ctrl+C) and resumed ends on the same bits
/// as one that never stopped, a damaged checkpoint is a one-line error naming the previous one, which still loads.
/// </summary>
[Collection(Infrastructure.NonParallelCollection.Name)]
public sealed class TrainCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-train-").FullName;
    private readonly string _text;

    public TrainCommandTests()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 120; i++)
        {
            text.Append("the quick brown fox jumps over the lazy dog. ");
            text.Append(i % 3 == 0 ? "ünïcödé 𝄞\n" : "pack my box with five dozen liquor jugs.\n");
        }

        _text = Path.Combine(_directory, "corpus.txt");
        File.WriteAllText(_text, text.ToString());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("lstm", 1)]
    [InlineData("gru", 2)]
    public void Text_InterruptedAndResumed_EndsOnTheBitsOfAnUninterruptedRun(string cell, int threads)
    {
        TrainSettings settings = Small(cell) with { Threads = threads };
        string straight = Path.Combine(_directory, "straight"), interrupted = Path.Combine(_directory, "interrupted");
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, straight, false, null, settings, null)));

        // Ctrl+C after update 13 (between checkpoints): a checkpoint of update 13 is saved and the exit code is 130.
        Assert.Equal(130, Train(new TrainRequest(_text, null, null, interrupted, false, null, settings, null), cancelAfter: 13));
        Assert.Equal(13, Checkpoint.Load(CheckpointFolder.List(interrupted)[^1]).Step);
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, interrupted, true, null, settings with { Threads = 1 }, null)));

        LoadedCheckpoint a = Checkpoint.Load(CheckpointFolder.List(straight)[^1]), b = Checkpoint.Load(CheckpointFolder.List(interrupted)[^1]);
        Assert.Equal(settings.Updates, a.Step);
        Assert.Equal(a.Step, b.Step);
        foreach ((string name, float[] values) in a.ToDictionary())
        {
            Assert.Equal(Bits(values), Bits(b.ToDictionary()[name]));
        }

        Assert.Equal(Bits(a.Tensors[TrainingRun.HiddenTensor]), Bits(b.Tensors[TrainingRun.HiddenTensor]));
        Assert.Equal(a.UpdatesApplied, b.UpdatesApplied);
        Assert.Equal(3, CheckpointFolder.List(straight).Count);   // --keep 3 of the saves at 10, 20, 24 plus none older
    }

    [Theory]
    [InlineData("lstm", 1)]
    [InlineData("gru", 2)]
    public void Accumulate_InterruptedAndResumed_EndsOnTheBitsOfAnUninterruptedRun(string cell, int threads)
    {
        TrainSettings settings = Small(cell) with { Accumulate = 2, Layers = 2, Threads = threads, Dropout = 0.2 };
        string straight = Path.Combine(_directory, "acc-straight"), interrupted = Path.Combine(_directory, "acc-interrupted");
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, straight, false, null, settings, null)));
        Assert.Equal(130, Train(new TrainRequest(_text, null, null, interrupted, false, null, settings, null), cancelAfter: 13));

        // The resumed run takes K from the checkpoint (the command line's default 1 is not applied).
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, interrupted, true, null, Small(cell) with { Threads = 1 }, null)));
        LoadedCheckpoint a = Checkpoint.Load(CheckpointFolder.List(straight)[^1]), b = Checkpoint.Load(CheckpointFolder.List(interrupted)[^1]);
        Assert.Equal(settings.Updates, b.Step);
        Assert.Equal(2, TrainSettings.FromJson(b.Metadata[TrainingRun.SettingsKey]).Accumulate);
        foreach ((string name, float[] values) in a.ToDictionary())
        {
            Assert.Equal(Bits(values), Bits(b.ToDictionary()[name]));
        }

        Assert.Equal(Bits(a.Tensors[TrainingRun.HiddenTensor]), Bits(b.Tensors[TrainingRun.HiddenTensor]));
        Assert.Equal(2 * 4 * 24, a.Tensors[TrainingRun.HiddenTensor].Length);   // every stream's state [L, B, H]
    }

    [Fact]
    public void Accumulate_TakesTheUpdatesOfTheWholeBatch()
    {
        // One update (Adam's first step is lr·g/(|g| + ε), which amplifies nothing after one step): the weights and every
        // stream's carried state of 4 accumulated micro-batches of 1 stream against the batch of 4 streams.
        TrainSettings whole = Small("gru") with { Updates = 1, Every = 1, Clip = 0 };
        string one = Path.Combine(_directory, "acc-one"), two = Path.Combine(_directory, "acc-two");
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, one, false, null, whole, null)));
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, two, false, null, whole with { Accumulate = 4 }, null)));
        LoadedCheckpoint a = Checkpoint.Load(CheckpointFolder.List(one)[^1]), b = Checkpoint.Load(CheckpointFolder.List(two)[^1]);
        double worst = 0;
        int compared = 0;
        foreach ((string name, float[] values) in a.ToDictionary())
        {
            float[] other = b.ToDictionary()[name];
            for (int i = 0; i < values.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(values[i] - other[i]));
                compared++;
            }
        }

        Assert.True(compared > 1000);
        Assert.True(worst <= 1e-6, $"A weight differs by {worst:E3} between the whole batch and 4 accumulated micro-batches.");
        float[] h1 = a.Tensors[TrainingRun.HiddenTensor], h2 = b.Tensors[TrainingRun.HiddenTensor];
        Assert.Equal(h1.Length, h2.Length);
        Assert.All(Enumerable.Range(0, h1.Length), i => Assert.True(Math.Abs(h1[i] - h2[i]) <= 1e-6));
    }

    [Theory]
    [InlineData("lstm", 1)]
    [InlineData("gru", 2)]
    public void Dropout_InterruptedAndResumed_EndsOnTheBitsOfAnUninterruptedRun_WhichDropoutChanged(string cell, int threads)
    {
        TrainSettings plain = Small(cell) with { Layers = 2, Threads = threads };
        TrainSettings settings = plain with { Dropout = 0.3, OutputDropout = 0.2, WeightDrop = 0.4, EmbeddingDropout = 0.1, InputDropout = 0.2, RecurrentDropout = 0.25 };
        string straight = Path.Combine(_directory, "drop-straight"), interrupted = Path.Combine(_directory, "drop-interrupted"), none = Path.Combine(_directory, "no-drop");
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, straight, false, null, settings, null)));
        Assert.Equal(130, Train(new TrainRequest(_text, null, null, interrupted, false, null, settings, null), cancelAfter: 13));
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, interrupted, true, null, plain with { Threads = 1 }, null)));
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, none, false, null, plain, null)));

        LoadedCheckpoint a = Checkpoint.Load(CheckpointFolder.List(straight)[^1]), b = Checkpoint.Load(CheckpointFolder.List(interrupted)[^1]);
        LoadedCheckpoint c = Checkpoint.Load(CheckpointFolder.List(none)[^1]);
        Assert.Equal(a.Step, b.Step);
        foreach ((string name, float[] values) in a.ToDictionary())
        {
            Assert.Equal(Bits(values), Bits(b.ToDictionary()[name]));
        }

        Assert.NotEqual(Bits(a.ToDictionary()["rnn.weight_hh_l0"]), Bits(c.ToDictionary()["rnn.weight_hh_l0"]));
        Assert.Equal(settings.DropoutOptions, a.Architecture!.Dropout);
        Assert.Equal(settings.DropoutOptions, b.Architecture!.Dropout);
        Assert.Null(c.Architecture!.Dropout);
        Assert.Equal(0.4, TrainSettings.FromJson(b.Metadata[TrainingRun.SettingsKey]).WeightDrop);
    }

    [Theory]
    [InlineData("plateau", 0.0)]
    [InlineData("cosine", 0.01)]
    public void ValidationSchedulesAndDecay_InterruptedAndResumed_EndOnTheBitsAndHistoryOfAnUninterruptedRun(string schedule, double weightDecay)
    {
        TrainSettings settings = Small("lstm") with
        {
            ValidEvery = 5, Schedule = schedule, Warmup = 4, PlateauPatience = 0, MinLearningRate = 1e-3, WeightDecay = weightDecay,
        };
        string straight = Path.Combine(_directory, "straight-" + schedule), interrupted = Path.Combine(_directory, "interrupted-" + schedule);
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, straight, false, null, settings, null)));
        Assert.Equal(130, Train(new TrainRequest(_text, null, null, interrupted, false, null, settings, null), cancelAfter: 13));
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, interrupted, true, null, settings, null)));

        LoadedCheckpoint a = Checkpoint.Load(CheckpointFolder.List(straight)[^1]), b = Checkpoint.Load(CheckpointFolder.List(interrupted)[^1]);
        foreach ((string name, float[] values) in a.ToDictionary())
        {
            Assert.Equal(Bits(values), Bits(b.ToDictionary()[name]));
        }

        Assert.Equal(a.Metadata[TrainingHistory.Key], b.Metadata[TrainingHistory.Key]);
        using (var model = (LanguageModel)a.CreateModel())
        {
            Optimizer optimizer = a.CreateTrainer(model.Parameters).Optimizer;
            Assert.Equal(weightDecay > 0 ? typeof(AdamW) : typeof(Adam), optimizer.GetType());
            Assert.Equal(weightDecay, optimizer.WeightDecay);
        }


        // The held-out measurements every 5 updates, the best kept as best.safetensors (the step's own weights).
        TrainingHistory history = TrainingHistory.FromJson(a.Metadata[TrainingHistory.Key], "a");
        Assert.Equal([5L, 10, 15, 20], history.HeldOut.Select(p => p.Update));
        Assert.Equal(history.HeldOut.Min(p => p.Loss), history.BestLoss);
        LoadedCheckpoint best = Checkpoint.Load(Path.Combine(straight, CheckpointFolder.BestName));
        Assert.Equal(history.BestUpdate, best.Step);
        Assert.Equal(history.BestLoss, TrainingHistory.FromJson(best.Metadata[TrainingHistory.Key], "best").BestLoss);

        // The rates: a linear warm-up over 4 updates, then the schedule (each point carries the rate of its last update).
        foreach (LossPoint point in history.Training)
        {
            long done = point.Update - 1;
            double expected = done < 4 ? settings.LearningRate * (done + 1) / 4
                : schedule == "cosine" ? 1e-3 + ((settings.LearningRate - 1e-3) * (1 + Math.Cos(Math.PI * (done - 4) / 20)) / 2)
                : PlateauRate(history, point.Update, settings);
            Assert.Equal(expected, point.LearningRate, 1e-15);
        }
    }

    [Fact]
    public void Patience_StopsAtTheFirstMeasurementsWithoutABetterLoss_AndKeepsTheBest()
    {
        TrainSettings settings = Small("gru") with { Updates = 200, ValidEvery = 2, Patience = 2, LearningRate = 3e-2, Every = 1000 };
        string run = Path.Combine(_directory, "patience"), report = Path.Combine(_directory, "patience.json");
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, run, false, null, settings, report)));
        LoadedCheckpoint last = Checkpoint.Load(CheckpointFolder.List(run)[^1]);
        TrainingHistory history = TrainingHistory.FromJson(last.Metadata[TrainingHistory.Key], "last");
        Assert.True(last.Step < settings.Updates, $"the run should have stopped early, ran to {last.Step}");

        // Replays the rule on the recorded losses: it stops at the first point where two measurements in a row did not
        // beat the best before them, and not earlier.
        double best = double.PositiveInfinity;
        int since = 0;
        for (int i = 0; i < history.HeldOut.Count; i++)
        {
            Assert.True(since < 2, $"measurement {i} came after the stopping point");
            (best, since) = history.HeldOut[i].Loss < best ? (history.HeldOut[i].Loss, 0) : (best, since + 1);
        }

        Assert.Equal(2, since);
        Assert.Equal(history.HeldOut[^1].Update, last.Step);
        Assert.Equal(history.BestUpdate, Checkpoint.Load(Path.Combine(run, CheckpointFolder.BestName)).Step);
        string json = File.ReadAllText(report);
        Assert.Contains("\"stopped_early\": true", json, StringComparison.Ordinal);

        // Resuming a run that stopped early stops again at once, without training.
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, run, true, null, settings, null)));
        Assert.Equal(last.Step, Checkpoint.Load(CheckpointFolder.List(run)[^1]).Step);
    }

    [Fact]
    public void Plot_FromTheCommandLine_IsAPngOfTheCurves()
    {
        string run = Path.Combine(_directory, "plotted"), png = Path.Combine(_directory, "plots", "curve.png");
        Assert.Equal(0, Simd.Cli.Program.Run(
        [
            "train", "--text", _text, "--out", run, "--hidden", "16", "--embedding", "8", "--steps", "12", "--batch", "4", "--updates", "30",
            "--valid-every", "10", "--schedule", "cosine", "--warmup", "5", "--plot", png, "--plain",
        ]));
        PngAssert.IsChart(png, 1000, 600);
    }

    /// <summary>The plateau rate in force after <paramref name="update"/>: replays PyTorch's rule (patience 0, factor
    /// 0.5, relative threshold 1e-4, floor at the minimum) on the measurements recorded before it.</summary>
    private static double PlateauRate(TrainingHistory history, long update, TrainSettings settings)
    {
        double rate = settings.LearningRate, best = double.PositiveInfinity;
        foreach (LossPoint measured in history.HeldOut.Where(p => p.Update < update))
        {
            if (measured.Loss < best * (1 - 1e-4))
            {
                best = measured.Loss;
            }
            else
            {
                rate = Math.Max(rate * settings.PlateauFactor, settings.MinLearningRate);
            }
        }

        return rate;
    }

    [Fact]
    public void Sample_IsSeeded_AndContinuesThePrompt()
    {
        string run = Path.Combine(_directory, "run");
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, run, false, null, Small("lstm"), null)));
        var sampling = new SamplingOptions { Temperature = 0.9f, TopK = 5, Seed = 7 };
        string one = SampleCommand.Run(run, "the ", 60, sampling, 1);
        Assert.StartsWith("the ", one, StringComparison.Ordinal);
        Assert.Equal(one, SampleCommand.Run(run, "the ", 60, sampling, 2));
        Assert.NotEqual(one, SampleCommand.Run(run, "the ", 60, sampling with { Seed = 8 }, 1));
        Assert.Equal(64, SampleCommand.Run(run, "the ", 60, SamplingOptions.GreedyDecoding, 1).EnumerateRunes().Count());
        Assert.Throws<ArgumentException>(() => SampleCommand.Run(run, "€", 10, sampling, 1));   // not in the vocabulary

        // The run's model saved as a bf16 snapshot samples as the float32 model reduced to bf16 does.
        LoadedCheckpoint newest = CheckpointFolder.Open(run);
        var lm = (LanguageModel)newest.CreateModel();
        string reduced = Path.Combine(_directory, "bf16.safetensors");
        Checkpoint.Save(reduced, new CheckpointContent
        {
            Parameters = lm.Parameters, Architecture = lm.Options, WeightPrecision = WeightPrecision.BFloat16,
            Metadata = newest.Metadata, Tensors = newest.Tensors, Step = newest.Step,
        });
        LanguageModelInference f32 = lm.ToInference();
        var bf16 = new LanguageModelInference(lm.Options, f32.Embedding, f32.Network.WithWeightPrecision(WeightPrecision.BFloat16), f32.Head);
        (LanguageModelInference served, CharacterVocabulary vocabulary) = TextRun.Load(Checkpoint.Load(reduced));
        Assert.Equal(WeightPrecision.BFloat16, served.Network.WeightPrecision);
        TokenGenerator expected = bf16.CreateGenerator(sampling), actual = served.CreateGenerator(sampling);
        expected.Prime(vocabulary.Encode("the "));
        actual.Prime(vocabulary.Encode("the "));
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(expected.Next(), actual.Next());
        }

        Assert.Contains("without the float32 master weights", Assert.Throws<InvalidOperationException>(() => Checkpoint.Load(reduced).CreateModel()).Message, StringComparison.Ordinal);
        lm.Dispose();
    }

    [Fact]
    public void DamagedNewestCheckpoint_IsAOneLineErrorNamingThePrevious_WhichStillLoads()
    {
        string run = Path.Combine(_directory, "damaged");
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, run, false, null, Small("gru"), null)));
        IReadOnlyList<string> saved = CheckpointFolder.List(run);
        byte[] bytes = File.ReadAllBytes(saved[^1]);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(saved[^1], bytes);

        var error = new StringWriter();
        Console.SetError(error);
        try
        {
            Assert.Equal(1, Simd.Cli.Program.Run(["sample", "--checkpoint", run, "--length", "5"]));
        }
        finally
        {
            Console.SetError(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true });
        }

        string message = error.ToString().TrimEnd();
        Assert.DoesNotContain('\n', message);
        Assert.Contains("damaged", message, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(saved[^2]), message, StringComparison.Ordinal);
        Assert.Equal(9, SampleCommand.Run(saved[^2], "the ", 5, SamplingOptions.GreedyDecoding, 1).Length);

        // Resuming from the named previous checkpoint works too.
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, run, true, saved[^2], Small("gru") with { Updates = 30 }, null)));
    }

    [Fact]
    public void Series_FromACsvColumn_TrainsResumesAndForecasts()
    {
        string csv = Path.Combine(_directory, "series.csv");
        var lines = new List<string> { "step,value" };
        for (int i = 0; i < 600; i++)
        {
            lines.Add(FormattableString.Invariant($"{i},{Math.Sin(i * 0.2):F5}"));
        }

        File.WriteAllLines(csv, lines);
        TrainSettings settings = Small("lstm") with { Steps = 16, Batch = 4, Updates = 120, Every = 50, LearningRate = 1e-2 };
        string run = Path.Combine(_directory, "series");
        Assert.Equal(130, Train(new TrainRequest(null, csv, "value", run, false, null, settings, null), cancelAfter: 30));
        string report = Path.Combine(_directory, "series.json");
        Assert.Equal(0, Train(new TrainRequest(null, csv, "value", run, true, null, settings, report)));
        Assert.Contains("\"held_out_loss\"", File.ReadAllText(report), StringComparison.Ordinal);

        string[] forecast = SampleCommand.Run(run, null, 3, SamplingOptions.GreedyDecoding, 1).Split(Environment.NewLine);
        Assert.Equal(3, forecast.Length);
        for (int k = 0; k < 3; k++)
        {
            double expected = Math.Sin((600 + k) * 0.2);
            Assert.InRange(double.Parse(forecast[k], System.Globalization.CultureInfo.InvariantCulture), expected - 0.25, expected + 0.25);
        }
    }

    [Fact]
    public void BadRequests_AreOneLineErrors()
    {
        string run = Path.Combine(_directory, "bad");
        Assert.Throws<ArgumentException>(() => Train(new TrainRequest(_text, _text, null, run, false, null, Small("lstm"), null)));
        Assert.Throws<ArgumentException>(() => Train(new TrainRequest(_text, null, null, run, false, null, Small("lstm") with { Hidden = 0 }, null)));
        Assert.Equal(0, Train(new TrainRequest(_text, null, null, run, false, null, Small("lstm") with { Updates = 5 }, null)));
        Assert.Throws<ArgumentException>(() => Train(new TrainRequest(_text, null, null, run, false, null, Small("lstm"), null)));   // already holds checkpoints
        string other = Path.Combine(_directory, "other.txt");
        File.WriteAllText(other, File.ReadAllText(_text) + "!");
        Assert.Throws<ArgumentException>(() => Train(new TrainRequest(other, null, null, run, true, null, Small("lstm"), null)));   // other data
        Assert.Throws<FileNotFoundException>(() => Train(new TrainRequest(Path.Combine(_directory, "none.txt"), null, null, null, false, null, Small("lstm"), null)));
        Assert.Equal(2, Simd.Cli.Program.Run(["train", "--cell", "transformer"]));
        Assert.Throws<ArgumentException>(() => (Small("gru") with { Accumulate = 3 }).Validate());
        Assert.Equal(0, Simd.Cli.Program.Run(["train", "--help"]));
        Assert.Equal(0, Simd.Cli.Program.Run(["sample", "--help"]));
    }

    private static TrainSettings Small(string cell) => new()
    {
        Cell = cell, Hidden = 24, Embedding = 8, Steps = 12, Batch = 4, Updates = 24, Every = 10, Keep = 3, LearningRate = 5e-3, Seed = 3,
    };

    private static int Train(TrainRequest request, long cancelAfter = -1)
    {
        using var cancel = new CancellationTokenSource();
        return TrainCommand.Execute(request, new CancellingView(cancel, cancelAfter), cancel.Token);
    }

    private static uint[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToUInt32Bits)];

    /// <summary>Plain output to nowhere; cancels (as Ctrl+C does) once the run reports update <c>cancelAfter</c>.</summary>
    private sealed class CancellingView(CancellationTokenSource cancel, long cancelAfter) : TrainView
    {
        public override void Run(string title, long start, long total, Action<Action<long, double>> loop) =>
            loop((step, _) =>
            {
                if (step == cancelAfter)
                {
                    cancel.Cancel();
                }
            });

        public override void Line(string text)
        {
        }
    }
}
