namespace Rnn.Simd.Tests.Import;

/// <summary>
/// Finds Silero VAD's ONNX files (MIT-licensed, from npm @ricky0123/vad-web@0.0.31; <c>tools/silero/fetch</c> puts
/// them into <c>artifacts/silero</c>): the folder named by RNN_SIMD_SILERO_DIR, else &lt;repo&gt;/artifacts/silero.
/// <see cref="Path"/> makes the calling test (a <c>[SkippableFact]</c> or <c>[SkippableTheory]</c>) report Skipped
/// with the reason when a file is absent, unless RNN_SIMD_REQUIRE_SILERO=1 (set by .ci/run), where absence fails.
/// </summary>
internal static class SileroFiles
{
    /// <summary>Silero VAD v5 (inputs input [B, N], state [2, B, 128], sr; outputs output [B, 1], stateN).</summary>
    public const string V5 = "silero_vad_v5.onnx";

    /// <summary>Silero VAD v6 (the same inputs and outputs as v5).</summary>
    public const string V6 = "silero_vad_v6.onnx";

    /// <summary>Silero VAD's legacy model (inputs input [B, N], sr, h [2, B, 64], c [2, B, 64]; outputs output, hn, cn).</summary>
    public const string Legacy = "silero_vad_legacy.onnx";

    /// <summary>The environment variable naming the folder that holds the files.</summary>
    public const string DirectoryVariable = "RNN_SIMD_SILERO_DIR";

    /// <summary>The environment variable that, set to 1, turns a missing file into a failure instead of a skip.</summary>
    public const string RequireVariable = "RNN_SIMD_REQUIRE_SILERO";

    /// <summary>The folder searched: RNN_SIMD_SILERO_DIR if set, else &lt;repo&gt;/artifacts/silero.</summary>
    public static string Folder
    {
        get
        {
            string? dir = Environment.GetEnvironmentVariable(DirectoryVariable);
            return string.IsNullOrEmpty(dir)
                ? System.IO.Path.Combine(Architecture.LayeringTests.RepositoryRoot(), "artifacts", "silero")
                : dir;
        }
    }

    /// <summary>Whether absence must fail (RNN_SIMD_REQUIRE_SILERO=1).</summary>
    public static bool Required => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// <summary>The full path of <paramref name="file"/> (one of <see cref="V5"/>, <see cref="V6"/>, <see cref="Legacy"/>);
    /// skips the calling test when it is absent, or fails when <see cref="Required"/>.</summary>
    public static string Path(string file)
    {
        string path = System.IO.Path.Combine(Folder, file);
        if (!File.Exists(path))
        {
            string reason = $"{path} is absent: run tools/silero/fetch (or set {DirectoryVariable} to a folder holding {file}).";
            if (Required)
            {
                throw new FileNotFoundException($"{RequireVariable}=1 but {reason}", path);
            }

            Skip.If(true, reason);
        }

        return path;
    }
}
