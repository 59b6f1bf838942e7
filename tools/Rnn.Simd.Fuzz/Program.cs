using System.CommandLine;
using System.Globalization;

namespace Rnn.Simd.Fuzz;

/// <summary>
/// The file readers' mutation fuzzer (<see cref="FileFuzzer"/>, maintenance: not part of the shipped tool) for as many
/// inputs as asked: <c>dotnet run -c Release --project tools/Rnn.Simd.Fuzz -- --inputs 1000000 --seed 1000</c>. Prints the inputs run, the outcomes per reader, the slowest input and the largest
/// allocation; writes each failing input to <c>--save</c> and exits 1 if there was one.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        ParseResult parsed = Create().Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"rnn-simd-fuzz: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
            return 2;
        }

        return parsed.Invoke();
    }

    private static RootCommand Create()
    {
        var inputs = new Option<long>("--inputs") { Description = "Inputs to run.", DefaultValueFactory = _ => 10_000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed: input i of seed s is the same file on every machine.", DefaultValueFactory = _ => 1 };
        var start = new Option<long>("--start") { Description = "Index of the first input (to reproduce one: --start i --inputs 1).", DefaultValueFactory = _ => 0 };
        var save = new Option<DirectoryInfo?>("--save") { Description = "Where to write failing inputs (default: fuzz-failures)." };
        var command = new RootCommand("Fuzz the safetensors, checkpoint and PyTorch readers with mutated files (maintenance).")
        {
            inputs, seed, start, save,
        };
        command.SetAction(result => Run(result.GetValue(inputs), result.GetValue(seed), result.GetValue(start), result.GetValue(save)?.FullName ?? "fuzz-failures"));
        return command;
    }

    private static int Run(long inputs, ulong seed, long start, string save)
    {
        if (inputs < 1 || start < 0)
        {
            throw new ArgumentException($"--inputs must be ≥ 1 and --start ≥ 0, were {inputs} and {start}.");
        }

        using var fuzzer = new FileFuzzer(Directory.CreateTempSubdirectory("rnn-simd-fuzz-").FullName);
        Console.Out.WriteLine($"fuzzing {inputs:N0} inputs from #{start} with seed {seed}");
        FuzzReport report = fuzzer.Run(seed, start, inputs, r => Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {r.Inputs:N0} inputs, {r.Elapsed.TotalSeconds:F0} s, {r.Failures.Count} failures, slowest {r.SlowestMilliseconds:F1} ms")));
        Console.Out.WriteLine(report);
        if (report.Failures.Count == 0)
        {
            return 0;
        }

        Directory.CreateDirectory(save);
        foreach (FuzzFailure failure in report.Failures.DistinctBy(f => f.Index))
        {
            File.WriteAllBytes(Path.Combine(save, string.Create(CultureInfo.InvariantCulture, $"seed{seed}-{failure.Index}-{failure.Mutation}.safetensors")), failure.Bytes);
        }

        Console.Out.WriteLine($"failing inputs written to {Path.GetFullPath(save)}");
        return 1;
    }
}
