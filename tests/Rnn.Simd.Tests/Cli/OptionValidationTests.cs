using Rnn.Simd.Tests.Infrastructure;

namespace Rnn.Simd.Tests.Cli;

/// <summary>
/// Issue 7, item 1 for the command line: every command's options, given an unknown option, a missing value, a zero or
/// negative number, a non-number or a file that does not exist, end the tool with a non-zero exit code and one line on
/// standard error that names the option (or the file). Nothing runs: each row fails before any work.
/// </summary>
[Trait("Category", "Cli")]
[Collection(NonParallelCollection.Name)] // redirects Console.Error
public sealed class OptionValidationTests
{
    private static readonly string s_golden = Path.Combine(AppContext.BaseDirectory, "Golden", "lstm_basic");
    private static readonly string s_model = Path.Combine(s_golden, "model.safetensors");
    private static readonly string s_input = Path.Combine(s_golden, "input.safetensors");
    private static readonly string s_missing = Path.Combine(Path.GetTempPath(), "rnn-simd-no-such-file-7f3e", "missing.safetensors");
    private static readonly string s_out = Path.Combine(Path.GetTempPath(), "rnn-simd-option-tests-never-written.safetensors");

    /// <summary>(arguments, a fragment the error line must contain).</summary>
    public static TheoryData<string[], string> BadInvocations()
    {
        string[] infer = ["infer", "--model", s_model, "--input", s_input, "--output", s_out];
        string[] backward = ["backward", "--model", s_model, "--input", s_input, "--grad-output", s_input, "--output", s_out];
        string text = s_model; // any existing file: these rows fail on their option before the data is read
        string[] train = ["train", "--text", text, "--out", Path.Combine(Path.GetTempPath(), "rnn-simd-option-tests-run")];
        string[] sample = ["sample", "--checkpoint", s_missing];
        // One fixed folder (rewritten, not accumulated, run after run); nothing in it is ever a checkpoint.
        string scratch = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "rnn-simd-option-tests")).FullName, csv = Path.Combine(scratch, "data.csv");
        File.WriteAllText(csv, "a,b\n1,2\n3,4\n5,6\n");
        string speech = Path.Combine(AppContext.BaseDirectory, "Audio", "Speech", "speech-16k.wav");
        string notSilero = Path.Combine(AppContext.BaseDirectory, "GoldenOnnx", "lstm_bidir_layout0_lens_init", "model.onnx");
        string cd = Path.Combine(scratch, "cd.wav");   // 44.1 kHz stereo 16-bit: one frame of silence
        File.WriteAllBytes(cd, [.. "RIFF"u8, 40, 0, 0, 0, .. "WAVEfmt "u8, 16, 0, 0, 0, 1, 0, 2, 0, 0x44, 0xAC, 0, 0, 0x10, 0xB1, 2, 0, 4, 0, 16, 0, .. "data"u8, 4, 0, 0, 0, 0, 0, 0, 0]);
        string[] vad = ["vad", "--model", notSilero, "--wav", speech];
        var rows = new TheoryData<string[], string>
        {
            // Unknown command and unknown options, per command.
            { ["no-such-command"], "no-such-command" },
            { [.. infer, "--no-such-option"], "--no-such-option" },
            { [.. backward, "--bogus", "1"], "--bogus" },
            { [.. train, "--hiden", "8"], "--hiden" },
            { ["sample", "--checkpoint", "x", "--temprature", "1"], "--temprature" },
            { ["bench", "--configs", s_model, "--frobnicate"], "--frobnicate" },
            { ["demo", "--quik"], "--quik" },

            // Missing values and required options.
            { ["infer", "--model", s_model, "--input", s_input, "--output"], "--output" },
            { ["infer", "--input", s_input, "--output", s_out], "--model" },
            { ["backward", "--model", s_model, "--input", s_input, "--output", s_out], "--grad-output" },
            { ["sample"], "--checkpoint" },
            { ["bench"], "--configs" },
            { [.. train, "--hidden"], "--hidden" },

            // Non-numeric values.
            { [.. infer, "--threads", "two"], "two" },
            { [.. train, "--hidden", "big"], "big" },
            { [.. train, "--lr", "fast"], "fast" },
            { [.. train, "--seed", "-1"], "-1" },
            { ["sample", "--checkpoint", "x", "--length", "1e3"], "1e3" },
            { ["demo", "--seed", "abc"], "abc" },

            // Zero, negative and overflowing numbers.
            { [.. infer, "--threads", "0"], "--threads" },
            { [.. infer, "--threads", "-4"], "--threads" },
            { [.. backward, "--threads", "0"], "--threads" },
            { [.. infer, "--threads", "99999999999"], "99999999999" },
            { [.. train, "--hidden", "0"], "--hidden" },
            { [.. train, "--hidden", "-128"], "--hidden" },
            { [.. train, "--hidden", "100000"], "--hidden" },
            { [.. train, "--layers", "0"], "--layers" },
            { [.. train, "--embedding", "-1"], "--embedding" },
            { [.. train, "--steps", "0"], "--steps" },
            { [.. train, "--batch", "0"], "--batch" },
            { [.. train, "--batch", "-16"], "--batch" },
            { [.. train, "--lr", "0"], "--lr" },
            { [.. train, "--lr", "-0.1"], "--lr" },
            { [.. train, "--lr", "NaN"], "--lr" },
            { [.. train, "--clip", "-1"], "--clip" },
            { [.. train, "--clip", "Infinity"], "--clip" },
            { [.. train, "--updates", "-5"], "--updates" },
            { [.. train, "--every", "0"], "--every" },
            { [.. train, "--keep", "0"], "--keep" },
            { [.. train, "--threads", "0"], "--threads" },
            { [.. train, "--cell", "transformer"], "transformer" },
            { [.. train, "--valid-every", "-1"], "--valid-every" },
            { [.. train, "--patience", "-2"], "--patience" },
            { [.. train, "--patience", "3", "--valid-every", "0"], "--patience" },
            { [.. train, "--schedule", "linear"], "linear" },
            { [.. train, "--schedule", "plateau", "--valid-every", "0"], "--schedule plateau" },
            { [.. train, "--warmup", "-10"], "--warmup" },
            { [.. train, "--min-lr", "0.5"], "--min-lr" },
            { [.. train, "--plateau-factor", "1"], "--plateau-factor" },
            { [.. train, "--plateau-patience", "-1"], "--plateau-patience" },
            { [.. train, "--weight-decay", "-0.01"], "--weight-decay" },
            { [.. train, "--dropout", "0.3"], "--layers ≥ 2" },
            { [.. train, "--dropout", "1", "--layers", "2"], "--dropout" },
            { [.. train, "--output-dropout", "-0.1"], "--output-dropout" },
            { [.. train, "--weight-drop", "1.5"], "--weight-drop" },
            { [.. train, "--embedding-dropout", "NaN"], "--embedding-dropout" },
            { [.. train, "--input-dropout", "1"], "--input-dropout" },
            { [.. train, "--recurrent-dropout", "-0.5"], "--recurrent-dropout" },
            { [.. sample, "--length", "-1"], "--length" },
            { [.. sample, "--threads", "0"], "--threads" },
            { [.. sample, "--temperature", "0"], "--temperature" },
            { [.. sample, "--temperature", "-1"], "--temperature" },
            { [.. sample, "--temperature", "NaN"], "--temperature" },
            { [.. sample, "--top-k", "-3"], "--top-k" },
            { ["bench", "--configs", s_model, "--threads", "0"], "--threads" },
            { ["demo", "--threads", "0"], "--threads" },
            { ["demo", "--threads", "-1"], "--threads" },
            { [.. infer, "--cell", "transformer"], "transformer" },

            // Files that do not exist.
            { ["infer", "--model", s_missing, "--input", s_input, "--output", s_out], "missing.safetensors" },
            { ["infer", "--model", s_model, "--input", s_missing, "--output", s_out], "missing.safetensors" },
            { ["backward", "--model", s_model, "--input", s_input, "--grad-output", s_missing, "--output", s_out], "missing.safetensors" },
            { ["train", "--text", s_missing], "missing.safetensors" },
            { ["train", "--csv", s_missing, "--column", "0"], "missing.safetensors" },
            { sample, "missing.safetensors" },
            { ["bench", "--configs", s_missing], "missing.safetensors" },

            // Values that name something absent.
            { [.. infer, "--prefix", "nope."], "'nope.'" },
            { ["train", "--csv", csv, "--column", "zz", "--out", Path.Combine(scratch, "run")], "'zz'" },
            { ["train", "--csv", csv, "--out", Path.Combine(scratch, "run")], "--column" },
            { ["sample", "--checkpoint", scratch], "No checkpoint" },
            { ["train", "--text", csv, "--resume", Path.Combine(scratch, "nothing.safetensors"), "--out", Path.Combine(scratch, "run")], "nothing.safetensors" },

            // rnn-simd vad.
            { [.. vad, "--treshold", "0.5"], "--treshold" },
            { ["vad", "--wav", speech], "--model" },
            { ["vad", "--model", notSilero], "--wav" },
            { [.. vad, "--threshold"], "--threshold" },
            { [.. vad, "--threshold", "high"], "high" },
            { [.. vad, "--threshold", "0"], "--threshold" },
            { [.. vad, "--threshold", "1"], "--threshold" },
            { [.. vad, "--threshold", "-0.2"], "--threshold" },
            { [.. vad, "--threshold", "NaN"], "--threshold" },
            { ["vad", "--model", notSilero, "--wav", s_missing], "missing.safetensors" },
            { ["vad", "--model", s_missing, "--wav", speech], "missing.safetensors" },
            { ["vad", "--model", notSilero, "--wav", cd], "cd.wav: 44100 Hz stereo 16-bit PCM; the voice activity detector reads 16-bit PCM mono at 16000 or 8000 Hz." },
            { ["vad", "--model", notSilero, "--wav", csv], "data.csv: not a RIFF/WAVE file" },
            { vad, "are not Silero VAD's: v5/v6 take (input, state, sr)" },

            // Options that contradict each other.
            { ["train"], "--text" },
            { ["train", "--text", text, "--csv", text, "--column", "0"], "--text" },
        };
        return rows;
    }

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public void BadOption_ExitsNonZero_WithOneLineNamingIt(string[] args, string fragment)
    {
        var error = new StringWriter();
        var output = new StringWriter();
        TextWriter previousError = Console.Error, previousOut = Console.Out;
        Console.SetError(error);
        Console.SetOut(output);
        int code;
        try
        {
            code = Simd.Cli.Program.Run(args);
        }
        finally
        {
            Console.SetError(previousError);
            Console.SetOut(previousOut);
        }

        string text = error.ToString().TrimEnd();
        Assert.True(code != 0, $"exit code 0 for {string.Join(' ', args)}; stdout: {output}");
        Assert.StartsWith("rnn-simd: ", text);
        Assert.DoesNotContain('\n', text);
        Assert.Contains(fragment, text, StringComparison.Ordinal);
        Assert.False(File.Exists(s_out));
    }
}
