using System.CommandLine;
using Rnn.Simd.Cli.Commands;
using Rnn.Simd.Cli.Demo;

namespace Rnn.Simd.Cli;

/// <summary>The <c>rnn-simd</c> command-line tool.</summary>
internal static class Program
{
    private static int Main(string[] args) => Run(args);

    /// <summary>Runs the tool; every failure is one line on standard error and a non-zero exit code.</summary>
    internal static int Run(string[] args)
    {
        var root = new RootCommand("Rnn.Simd: SIMD recurrent neural networks for .NET.")
        {
            DemoCommand.Create(),
            TrainCommand.Create(),
            SampleCommand.Create(),
            InferCommand.Create(),
            BackwardCommand.Create(),
            BenchCommand.Create(),
            VadCommand.Create(),
        };

        try
        {
            ParseResult parsed = root.Parse(WithDefaultCommand(args));
            if (parsed.Errors.Count > 0)
            {
                // Every error (up to three) on the one line: "Required command was not provided" alone would hide the
                // unrecognized token that caused it.
                string errors = string.Join("; ", parsed.Errors.Take(3).Select(e => OneLine(e.Message).TrimEnd('.')));
                Console.Error.WriteLine($"rnn-simd: {errors}. (see --help)");
                return 2;
            }

            var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            return parsed.Invoke(configuration);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            Console.Error.WriteLine($"rnn-simd: {OneLine(message)}");
            return 1;
        }
    }

    /// <summary>No arguments, or only options that are not the root's own (e.g. <c>--json FILE</c>), run the demo.</summary>
    internal static string[] WithDefaultCommand(string[] args) =>
        args.Length == 0 ? ["demo"]
        : args[0].StartsWith('-') && args[0] is not ("--help" or "-h" or "-?" or "/?" or "--version") ? ["demo", .. args]
        : args;

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
