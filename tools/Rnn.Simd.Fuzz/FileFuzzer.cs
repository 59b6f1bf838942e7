using System.Diagnostics;
using System.Globalization;
using System.Text;
using Rnn.Simd.Training;

namespace Rnn.Simd.Fuzz;

/// <summary>One input that broke a rule: which input, the mutation, the stage, what went wrong, and the file.</summary>
internal sealed record FuzzFailure(long Index, string Mutation, string Stage, string What, byte[] Bytes);

/// <summary>What a fuzzing run saw.</summary>
internal sealed class FuzzReport
{
    public FuzzReport()
    {
        foreach (string stage in FuzzTargets.Stages)
        {
            Stages[stage] = (0, 0);
            StageTimes[stage] = TimeSpan.Zero;
        }
    }

    public long Inputs { get; set; }

    public TimeSpan Elapsed { get; set; }

    /// <summary>Per stage: how many inputs it accepted and how many it refused with <see cref="InvalidDataException"/>.</summary>
    public Dictionary<string, (long Accepted, long Refused)> Stages { get; } = new(StringComparer.Ordinal);

    /// <summary>Per stage: the time spent in it over all inputs.</summary>
    public Dictionary<string, TimeSpan> StageTimes { get; } = new(StringComparer.Ordinal);

    /// <summary>Inputs per mutation kind, and how many of them every stage refused.</summary>
    public Dictionary<string, long> Mutations { get; } = new(StringComparer.Ordinal);

    public List<FuzzFailure> Failures { get; } = [];

    public double SlowestMilliseconds { get; set; }

    public long SlowestIndex { get; set; } = -1;

    /// <summary>Inputs that took longer than the limit once and were timed again (see <see cref="FileFuzzer.Check"/>).</summary>
    public long Retimed { get; set; }

    /// <summary>The slowest best re-timing of a re-timed input that passed.</summary>
    public double SlowestRetimedMilliseconds { get; set; }

    /// <summary>The largest processor time of the best re-timings of re-timed inputs that passed.</summary>
    public double SlowestRetimedProcessorMilliseconds { get; set; }

    /// <summary>The largest allocation of one stage, in bytes, and the input it came from.</summary>
    public long LargestAllocation { get; set; }

    /// <summary>The stage and input of <see cref="LargestAllocation"/>.</summary>
    public string LargestAllocationAt { get; set; } = "";

    /// <summary>The largest ratio of one stage's allocation to the file's length, over inputs of at least 1 KiB.</summary>
    public double LargestAllocationRatio { get; set; }

    /// <summary>The largest fraction of the allocation budget one stage used.</summary>
    public double LargestBudgetUse { get; set; }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"inputs: {Inputs:N0} in {Elapsed.TotalSeconds:F1} s ({Inputs / Math.Max(Elapsed.TotalSeconds, 1e-9):N0}/s)");
        foreach ((string stage, (long accepted, long refused)) in Stages)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {stage,-15} accepted {accepted,10:N0}  InvalidDataException {refused,10:N0}  {StageTimes.GetValueOrDefault(stage).TotalSeconds,7:F1} s");
        }

        text.AppendLine("mutations: " + string.Join(", ", Mutations.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value:N0}"))));
        text.AppendLine(CultureInfo.InvariantCulture, $"slowest input: {SlowestMilliseconds:F1} ms (#{SlowestIndex}); over {FileFuzzer.TimeLimit.TotalSeconds:F0} s and timed again: {Retimed} (slowest best re-timing {SlowestRetimedMilliseconds:F1} ms, {SlowestRetimedProcessorMilliseconds:F1} ms of processor time)");
        text.AppendLine(CultureInfo.InvariantCulture, $"largest allocation of one stage: {LargestAllocation:N0} bytes ({LargestAllocationAt}); largest allocation / file size (files ≥ 1 KiB): {LargestAllocationRatio:F2}; largest share of the budget: {LargestBudgetUse:P0}");
        text.Append(CultureInfo.InvariantCulture, $"failures: {Failures.Count}");
        foreach (FuzzFailure f in Failures.Take(20))
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  #{f.Index} {f.Mutation} → {f.Stage}: {f.What}");
        }

        return text.ToString();
    }
}

/// <summary>
/// A seeded mutation fuzzer for every file reader (<see cref="FuzzTargets"/>): input <c>i</c> of seed <c>s</c> is one
/// mutation (<see cref="FuzzMutator"/>) of one corpus file (<see cref="FuzzCorpus"/>), the same on every run and machine,
/// so a failure is reproduced by its seed and index alone.
/// </summary>
/// <remarks>
/// <para>The rules, per input and stage: the only exception allowed is <see cref="InvalidDataException"/>; all stages
/// together take at most <see cref="TimeLimit"/> (an input over it is timed up to three more times, and fails if its
/// best re-timing is over it in wall-clock and in processor time: a shared machine may take the CPU away for a while,
/// a hang in these readers, which never wait, computes); a stage allocates at most <see cref="AllocationFactor"/> × the file's
/// length + <see cref="AllocationAllowance"/> bytes on the fuzzing thread.</para>
/// <para>The factor: a reader holds the file (1×), decodes its tensors to float or double (up to 4× for F16 read as
/// double), and a checkpoint's use rebuilds the model, optimiser and trainer from what it holds (the weights again,
/// packed, plus the optimiser's moments): all proportional to bytes that are really in the file. The allowance covers
/// what does not grow with the file: dictionaries, strings, the exception and its message, pooled windows and the model
/// objects. A reader that sized an array from a header's claim before checking it against the file's length would
/// exceed the budget by orders of magnitude (the mutations claim up to 2^63 bytes).</para>
/// </remarks>
internal sealed class FileFuzzer : IDisposable
{
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(1);

    public const int AllocationFactor = 16;

    public const long AllocationAllowance = 1 << 20;

    private readonly string _directory;
    private readonly FuzzCorpus _corpus;
    private readonly FuzzTargets _targets;
    private readonly string _inputPath;

    public FileFuzzer(string directory)
    {
        _directory = directory;
        _corpus = FuzzCorpus.Create(Path.Combine(directory, "corpus"));
        _targets = new FuzzTargets(_corpus);
        _inputPath = Path.Combine(directory, "input.safetensors");
    }

    public IReadOnlyList<(string Name, byte[] Bytes)> Seeds => _corpus.Seeds;

    /// <summary>Input <paramref name="index"/> of <paramref name="seed"/>: the file and its mutation kind.</summary>
    public byte[] Input(ulong seed, long index, out string mutation)
    {
        var random = new DeterministicRandom((seed * 0x9E3779B97F4A7C15UL) ^ (ulong)index);
        (_, byte[] start) = _corpus.Seeds[(int)(random.NextUInt64() % (ulong)_corpus.Seeds.Count)];
        return FuzzMutator.Mutate(start, _corpus.Seeds, random, out mutation);
    }

    /// <summary>Runs inputs <paramref name="first"/> … <paramref name="first"/> + <paramref name="count"/> − 1 of <paramref name="seed"/>.</summary>
    public FuzzReport Run(ulong seed, long first, long count, Action<FuzzReport>? progress = null)
    {
        // Warm-up: every stage on every valid seed, so that first-call costs (JIT, static tables) are not charged to an input.
        var warmUp = new FuzzReport();
        foreach ((string name, byte[] bytes) in _corpus.Seeds)
        {
            Check(warmUp, -1, "seed:" + name, bytes);
        }

        var report = new FuzzReport();
        report.Failures.AddRange(warmUp.Failures);
        var clock = Stopwatch.StartNew();
        for (long i = first; i < first + count; i++)
        {
            byte[] bytes;
            string mutation;
            try
            {
                bytes = Input(seed, i, out mutation);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"The mutator failed on input #{i} of seed {seed}: {e}", e);
            }

            report.Mutations[mutation] = report.Mutations.GetValueOrDefault(mutation) + 1;
            Check(report, i, mutation, bytes);
            report.Inputs++;
            if (progress is not null && report.Inputs % 100_000 == 0)
            {
                report.Elapsed = clock.Elapsed;
                progress(report);
            }
        }

        report.Elapsed = clock.Elapsed;
        return report;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Runs every stage on one file and records any broken rule.</summary>
    internal void Check(FuzzReport report, long index, string mutation, byte[] bytes)
    {
        File.WriteAllBytes(_inputPath, bytes);
        long budget = (AllocationFactor * (long)bytes.Length) + AllocationAllowance;
        long started = Stopwatch.GetTimestamp();
        for (int stage = 0; stage < FuzzTargets.Stages.Length; stage++)
        {
            string name = FuzzTargets.Stages[stage];
            long stageStart = Stopwatch.GetTimestamp();
            long before = GC.GetAllocatedBytesForCurrentThread();
            bool accepted = false;
            try
            {
                _targets.Run(stage, bytes, _inputPath);
                accepted = true;
            }
            catch (InvalidDataException)
            {
            }
            catch (Exception e)
            {
                report.Failures.Add(new FuzzFailure(index, mutation, name, $"{e.GetType().Name}: {e.Message}", bytes));
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            report.StageTimes[name] = report.StageTimes.GetValueOrDefault(name) + Stopwatch.GetElapsedTime(stageStart);
            (long a, long r) = report.Stages[name];
            report.Stages[name] = accepted ? (a + 1, r) : (a, r + 1);
            if (allocated > report.LargestAllocation)
            {
                report.LargestAllocation = allocated;
                report.LargestAllocationAt = string.Create(CultureInfo.InvariantCulture, $"{name}, #{index} {mutation}, file {bytes.Length:N0} bytes");
            }

            report.LargestBudgetUse = Math.Max(report.LargestBudgetUse, (double)allocated / budget);
            if (bytes.Length >= 1024)
            {
                report.LargestAllocationRatio = Math.Max(report.LargestAllocationRatio, (double)allocated / bytes.Length);
            }

            if (allocated > budget)
            {
                report.Failures.Add(new FuzzFailure(index, mutation, name, $"allocated {allocated:N0} bytes for a file of {bytes.Length:N0} (budget {budget:N0})", bytes));
            }
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        if (elapsed.TotalMilliseconds > report.SlowestMilliseconds && index >= 0)
        {
            report.SlowestMilliseconds = elapsed.TotalMilliseconds;
            report.SlowestIndex = index;
        }

        if (elapsed > TimeLimit)
        {
            // On a shared machine a thread can lose the CPU for seconds, or meet a full collection: a slow input is
            // timed up to three more times, each after a collection and a pause, with the processor time the process
            // spent. A hang computes (these readers never wait): an input is a failure only when its fastest re-timing
            // is over the limit in both wall-clock and processor time.
            report.Retimed++;
            TimeSpan second = TimeSpan.MaxValue, cpu = TimeSpan.MaxValue;
            using Process self = Process.GetCurrentProcess();
            for (int attempt = 0; attempt < 3 && (second > TimeLimit || cpu > TimeLimit); attempt++)
            {
                GC.Collect();
                Thread.Sleep(100);
                self.Refresh();
                TimeSpan cpuBefore = self.TotalProcessorTime;
                long again = Stopwatch.GetTimestamp();
                for (int stage = 0; stage < FuzzTargets.Stages.Length; stage++)
                {
                    try
                    {
                        _targets.Run(stage, bytes, _inputPath);
                    }
                    catch (Exception)
                    {
                        // Already judged on the first run; only the time counts now.
                    }
                }

                TimeSpan took = Stopwatch.GetElapsedTime(again);
                self.Refresh();
                TimeSpan used = self.TotalProcessorTime - cpuBefore;
                second = took < second ? took : second;
                cpu = used < cpu ? used : cpu;
            }

            if (second > TimeLimit && cpu > TimeLimit)
            {
                report.Failures.Add(new FuzzFailure(index, mutation, "all", $"took {elapsed.TotalMilliseconds:F0} ms, and at best {second.TotalMilliseconds:F0} ms ({cpu.TotalMilliseconds:F0} ms of processor time) in three more runs", bytes));
            }
            else if (index >= 0)
            {
                report.SlowestRetimedMilliseconds = Math.Max(report.SlowestRetimedMilliseconds, second.TotalMilliseconds);
                report.SlowestRetimedProcessorMilliseconds = Math.Max(report.SlowestRetimedProcessorMilliseconds, cpu.TotalMilliseconds);
            }
        }
    }
}
