using System.CommandLine;
using System.Globalization;
using System.Text;
using Rnn.Simd.Cli.Runs;
using Rnn.Simd.IO;
using Rnn.Simd.Kernels.Threading;
using Rnn.Simd.Networks;

namespace Rnn.Simd.Cli.Commands;

/// <summary>
/// <c>rnn-simd sample</c>: text from a language-model checkpoint (primed on a prompt; greedy, temperature and top-k
/// sampling, seeded), or the next values from a forecaster checkpoint.
/// </summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A checkpoint file, or a run directory (its newest checkpoint).", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Text to continue (default: start after a newline, or a space if the text has none)." };
        var length = new Option<int>("--length") { Description = "Characters (or values) to generate.", DefaultValueFactory = _ => 400 };
        var temperature = new Option<float>("--temperature") { Description = "Softmax temperature (> 0; lower is more conservative).", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely characters only (0: all).", DefaultValueFactory = _ => 0 };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely character." };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the sampling: the same seed gives the same text.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Threads for the matrix products.", DefaultValueFactory = _ => 1 };
        var command = new Command("sample", "Generate text from a language-model checkpoint, or a forecast from a series checkpoint.")
        {
            checkpoint, prompt, length, temperature, topK, greedy, seed, threads,
        };
        command.SetAction(result =>
        {
            var sampling = new SamplingOptions
            {
                Greedy = result.GetValue(greedy), Temperature = result.GetValue(temperature), TopK = result.GetValue(topK), Seed = result.GetValue(seed),
            };
            Console.Out.WriteLine(Run(result.GetValue(checkpoint)!, result.GetValue(prompt), result.GetValue(length), sampling, result.GetValue(threads)));
            return 0;
        });
        return command;
    }

    /// <summary>The generated text (the prompt followed by its continuation), or the forecast values one per line.</summary>
    internal static string Run(string path, string? prompt, int length, SamplingOptions sampling, int threadCount)
    {
        if (length is < 0 or > 10_000_000)
        {
            throw new ArgumentException($"--length must be 0 … 10000000, was {length}.");
        }

        if (threadCount is < 1 or > 256)
        {
            throw new ArgumentException($"--threads must be 1 … 256, was {threadCount}.");
        }

        if (!sampling.Greedy && !(sampling.Temperature > 0 && float.IsFinite(sampling.Temperature)))
        {
            throw new ArgumentException($"--temperature must be a positive number (or use --greedy), was {sampling.Temperature.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (sampling.TopK < 0)
        {
            throw new ArgumentException($"--top-k must be ≥ 0 (0: all), was {sampling.TopK}.");
        }

        LoadedCheckpoint checkpoint = CheckpointFolder.Open(path);
        using ThreadTeam? team = threadCount > 1 ? new ThreadTeam(threadCount) : null;
        if (TrainingRun.Required(checkpoint, TrainingRun.TaskKey) == "series")
        {
            return string.Join(Environment.NewLine, SeriesRun.Forecast(checkpoint, length, team).Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        }

        (LanguageModelInference model, Data.CharacterVocabulary vocabulary) = TextRun.Load(checkpoint);
        string start = string.IsNullOrEmpty(prompt) ? (vocabulary.Contains("\n") ? "\n" : " ") : prompt;
        int[] ids = vocabulary.Encode(start);
        TokenGenerator generator = model.CreateGenerator(sampling);
        generator.Prime(ids, team);
        var text = new StringBuilder(string.IsNullOrEmpty(prompt) ? "" : prompt);
        for (int i = 0; i < length; i++)
        {
            vocabulary.Append(text, generator.Next(team));
        }

        return text.ToString();
    }
}
