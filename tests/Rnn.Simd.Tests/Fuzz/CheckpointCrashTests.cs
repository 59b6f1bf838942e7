using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text;
using Rnn.Simd.Cli.Commands;
using Rnn.Simd.Cli.Runs;
using Rnn.Simd.IO;
using Rnn.Simd.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Rnn.Simd.Tests.Fuzz;

/// <summary>
/// Crashes while a checkpoint is written (issue 7, item 4): <c>rnn-simd train</c> killed with SIGKILL at seeded random
/// moments, many times, leaves only complete checkpoints and the run resumes from the newest, ending on the bits of a run
/// never killed; a full disk or a read-only directory is a clear error that leaves the previous checkpoint as it was.
/// </summary>
[Trait("Category", "Fuzz")]
[Collection(NonParallelCollection.Name)]
[UnsupportedOSPlatform("windows")]   // Unix file modes, SIGKILL, /dev/full, setpriv
public sealed class CheckpointCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 30;

    private readonly string _directory = Directory.CreateTempSubdirectory("rnn-simd-crash-").FullName;

    public void Dispose()
    {
        File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (string d in Directory.EnumerateDirectories(_directory, "*", SearchOption.AllDirectories))
        {
            File.SetUnixFileMode(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Killed_Mid_Write_Many_Times_The_Newest_Checkpoint_Always_Loads_And_The_Run_Ends_On_Unkilled_Bits()
    {
        string text = WriteText(), run = Path.Combine(_directory, "run");
        var random = new TestRandom(20261122);
        long newest = 0;
        int killedWithTemporary = 0, restarts = 0;
        var clock = Stopwatch.StartNew();
        for (int kill = 0; kill < Kills; kill++)
        {
            bool resume = CheckpointFolder.List(run).Count > 0;
            using Process child = StartCli([.. TrainArguments(text, run, updates: 1_000_000), .. resume ? new[] { "--resume" } : []]);
            restarts++;

            // Seeded moments: one kill in four during start-up or loading; the others once this run has saved a
            // checkpoint (so that every run makes progress however loaded the machine), a random time later, while
            // it trains and writes a checkpoint every update.
            if (random.Next(4) == 0)
            {
                Thread.Sleep(random.Next(400));
            }
            else
            {
                WaitForNewCheckpoint(run, newest, child, TimeSpan.FromSeconds(30));
                Thread.Sleep(random.Next(300));
            }

            child.Kill(entireProcessTree: true);      // SIGKILL on Unix: no handler, no finally, no flush
            child.WaitForExit();

            IReadOnlyList<string> saved = CheckpointFolder.List(run);
            foreach (string path in saved)
            {
                _ = Checkpoint.Load(path);          // complete and checksum-verified, every one of them
            }

            // A half-written file stays behind under its temporary name, which no reader lists.
            killedWithTemporary += Temporaries(run).Length > 0 ? 1 : 0;
            Assert.DoesNotContain(saved, p => Path.GetFileName(p).StartsWith('.'));
            if (saved.Count > 0)
            {
                long step = CheckpointFolder.Open(run).Step;
                Assert.True(step >= newest, $"kill {kill}: the newest checkpoint went back from update {newest} to {step}");
                newest = step;
            }
        }

        Assert.True(newest > 0, "no checkpoint was written in any of the runs: the machine is too slow for the delays");

        // Resume once more to a fixed end, and compare with a run that was never killed.
        long end = newest + 3;
        Assert.Equal(0, RunInProcess([.. TrainArguments(text, run, updates: end), "--resume"]));
        Assert.Empty(Temporaries(run));     // the first save of a run sweeps what the killed ones left
        string unkilled = Path.Combine(_directory, "unkilled");
        Assert.Equal(0, RunInProcess([.. TrainArguments(text, unkilled, updates: end)]));
        Dictionary<string, float[]> resumed = CheckpointFolder.Open(run).ToDictionary(), reference = CheckpointFolder.Open(unkilled).ToDictionary();
        Assert.Equal(reference.Keys.Order(StringComparer.Ordinal), resumed.Keys.Order(StringComparer.Ordinal));
        foreach ((string name, float[] values) in reference)
        {
            Assert.Equal(values.Select(BitConverter.SingleToInt32Bits), resumed[name].Select(BitConverter.SingleToInt32Bits));
        }

        output.WriteLine($"{Kills} SIGKILLs in {clock.Elapsed.TotalSeconds:F1} s ({restarts} starts); {killedWithTemporary} left a half-written temporary file; newest checkpoint at update {newest}; resumed to {end} on the unkilled run's bits");
    }

    [Fact]
    public void A_Full_Disk_Is_A_Clear_Error_And_Keeps_The_Previous_Checkpoint()
    {
        (string path, CheckpointContent next) = PreviousCheckpoint();
        byte[] before = File.ReadAllBytes(path);
        var opened = new List<Stream>();

        // /dev/full fails every write with ENOSPC, as a full disk does; elsewhere a stream that fails the same way.
        Func<Stream, Stream> full = File.Exists("/dev/full")
            ? _ => { var s = new FileStream("/dev/full", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1); opened.Add(s); return s; }
            : inner => new FailingStream(inner, 100);
        try
        {
            IOException e = Assert.Throws<IOException>(() => Checkpoint.SaveCore(path, next, full));
            output.WriteLine(e.Message);
            Assert.StartsWith($"Could not write '{path}': ", e.Message, StringComparison.Ordinal);
            Assert.Contains("unchanged", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            opened.ForEach(s => s.Dispose());
        }

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(1, Checkpoint.Load(path).Step);
        Assert.Equal([Path.GetFileName(path)], Directory.GetFileSystemEntries(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [SkippableFact]
    public void A_Read_Only_Directory_Is_A_Clear_Error_And_Keeps_The_Previous_Checkpoint()
    {
        (string path, CheckpointContent next) = PreviousCheckpoint();
        string directory = Path.GetDirectoryName(path)!;
        byte[] before = File.ReadAllBytes(path);
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        if (!Environment.IsPrivilegedProcess)
        {
            UnauthorizedAccessException e = Assert.Throws<UnauthorizedAccessException>(() => Checkpoint.Save(path, next));
            output.WriteLine(e.Message);
            Assert.StartsWith($"Could not write '{path}': ", e.Message, StringComparison.Ordinal);
        }
        else
        {
            // Root writes through 0555: run the tool itself as 'nobody', where the directory is read-only as for any user.
            AsNobodyResumingInto(directory);
        }

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(1, Checkpoint.Load(path).Step);
    }

    private void AsNobodyResumingInto(string directory)
    {
        Skip.IfNot(File.Exists("/usr/bin/setpriv"), "Running as root and setpriv (util-linux) is missing, so nothing can make a directory read-only.");

        // 'nobody' must reach the tool and the run: directories on the way opened for others to traverse.
        foreach (string d in new[] { _directory, Path.Combine(_directory, "ro") })
        {
            File.SetUnixFileMode(d, File.GetUnixFileMode(d) | UnixFileMode.OtherRead | UnixFileMode.OtherExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        }

        (int probe, _, string probeError) = RunAsNobody(["--help"]);
        Skip.If(probe != 0, $"Running as root, and 'nobody' cannot run the built tool here ({probeError.Trim()}), so nothing can make a directory read-only.");

        string text = Path.Combine(_directory, "ro-text.txt");
        (int code, _, string error) = RunAsNobody(["train", "--text", text, "--out", directory, "--resume", "--updates", "2", "--every", "1", "--plain"]);
        output.WriteLine(error);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1, code);
        Assert.Single(lines);
        Assert.StartsWith($"rnn-simd: Could not write '{Path.Combine(directory, "step-00000002.safetensors")}': ", lines[0], StringComparison.Ordinal);
    }

    /// <summary>A checkpoint of update 1 of a tiny text run in its own directory, and the content of update 2.</summary>
    private (string Path, CheckpointContent Next) PreviousCheckpoint()
    {
        string directory = Path.Combine(_directory, "ro");
        Directory.CreateDirectory(directory);
        string text = Path.Combine(_directory, "ro-text.txt");
        File.WriteAllText(text, Text());
        File.SetUnixFileMode(text, File.GetUnixFileMode(text) | UnixFileMode.OtherRead);
        var settings = new TrainSettings { Hidden = 6, Embedding = 3, Steps = 4, Batch = 2, Updates = 2, Every = 1 };
        using TextRun run = TextRun.Start(text, settings);
        run.TrainOne(null);
        string path = new CheckpointFolder(directory, 3).Save(1, run.ToCheckpoint());
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.OtherRead);
        run.TrainOne(null);
        return (path, run.ToCheckpoint());
    }

    /// <summary>Polls until the run's newest checkpoint is past <paramref name="step"/>, the child exits, or the time is up.</summary>
    private static void WaitForNewCheckpoint(string run, long step, Process child, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit && !child.HasExited)
        {
            string? newest = CheckpointFolder.List(run).LastOrDefault();
            if (newest is not null && long.Parse(Path.GetFileNameWithoutExtension(newest)["step-".Length..], System.Globalization.CultureInfo.InvariantCulture) > step)
            {
                return;
            }

            Thread.Sleep(5);
        }
    }

    private static string[] TrainArguments(string text, string run, long updates) =>
    [
        "train", "--text", text, "--out", run, "--hidden", "8", "--embedding", "4", "--steps", "8", "--batch", "2",
        "--updates", updates.ToString(System.Globalization.CultureInfo.InvariantCulture), "--every", "1", "--keep", "3", "--seed", "5", "--plain",
    ];

    private static string[] Temporaries(string run) =>
        Directory.Exists(run) ? Directory.GetFiles(run, ".step-*.tmp") : [];

    private string WriteText()
    {
        string path = Path.Combine(_directory, "text.txt");
        File.WriteAllText(path, Text());
        return path;
    }

    private static string Text() => string.Concat(Enumerable.Repeat(Simd.Fuzz.FuzzCorpus.Text, 12));

    private static int RunInProcess(string[] args)
    {
        TextWriter savedOut = Console.Out;
        try
        {
            Console.SetOut(TextWriter.Null);
            return Simd.Cli.Program.Run(args);
        }
        finally
        {
            Console.SetOut(savedOut);
        }
    }

    /// <summary>The built tool (copied next to the tests) in a child process, its output discarded.</summary>
    private static Process StartCli(string[] args)
    {
        var start = new ProcessStartInfo(DotNet()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "rnn-simd.dll"));
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        Process child = Process.Start(start)!;
        child.OutputDataReceived += static (_, _) => { };
        child.ErrorDataReceived += static (_, _) => { };
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
        return child;
    }

    private (int Code, string Output, string Error) RunAsNobody(string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--", DotNet(), Path.Combine(AppContext.BaseDirectory, "rnn-simd.dll") }.Concat(args))
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["HOME"] = _directory;
        start.Environment["DOTNET_CLI_HOME"] = _directory;
        using Process child = Process.Start(start)!;
        var stdout = new StringBuilder();
        child.OutputDataReceived += (_, e) => stdout.AppendLine(e.Data);
        child.BeginOutputReadLine();
        string error = child.StandardError.ReadToEnd();
        child.WaitForExit();
        return (child.ExitCode, stdout.ToString(), error);
    }

    /// <summary>The dotnet host running these tests (dotnet test sets DOTNET_HOST_PATH), else the one on PATH.</summary>
    private static string DotNet() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}
