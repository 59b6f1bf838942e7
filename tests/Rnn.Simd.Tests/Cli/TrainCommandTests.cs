using System.Text;
using Rnn.Simd.Cli.Commands;
using Rnn.Simd.Cli.Runs;
using Rnn.Simd.IO;
using Rnn.Simd.Networks;

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
