using System.CommandLine;
using Rnn.Simd.Cli.Commands;

namespace Rnn.Simd.Cli;

/// <summary>The <c>rnn-simd</c> command-line tool.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("Rnn.Simd: SIMD recurrent neural networks for .NET.")
        {
            BenchKernelsCommand.Create(),
        };

        try
        {
            return root.Parse(args).Invoke();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            Console.Error.WriteLine($"rnn-simd: {e.Message}");
            return 1;
        }
    }
}
