using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Rnn.Simd.Internal;
using Rnn.Simd.Kernels;
using Rnn.Simd.Parameters;
using Rnn.Simd.Training;

namespace Rnn.Simd.IO;

/// <summary>
/// Saves and loads a whole training run (parameters, optimiser, trainer counters, generators, the caller's metadata)
/// as one safetensors file, written atomically and checked by a SHA-256 on load.
/// </summary>
/// <remarks>
/// <para>The file is an ordinary safetensors file, readable by any safetensors reader:</para>
/// <list type="bullet">
/// <item><c>param/&lt;name&gt;</c> F32: each parameter tensor, in its shape (so <see cref="Import.PyTorchImport"/> with
/// prefix <c>param/rnn.</c> reads the recurrent part as a model). In a reduced checkpoint
/// (<see cref="CheckpointContent.WeightPrecision"/>) the recurrent weight matrices are BF16, or I8 with their F32 row
/// scales as <c>scale/&lt;name&gt;</c>, and <c>__metadata__</c> has <c>weight_precision</c> (<c>bfloat16</c>, <c>int8</c>).</item>
/// <item><c>optim/&lt;state&gt;/&lt;name&gt;</c> F32: the optimiser's state per parameter, under PyTorch's state names
/// (<c>exp_avg</c>, <c>exp_avg_sq</c>, <c>max_exp_avg_sq</c>, <c>momentum_buffer</c>, <c>square_avg</c>,
/// <c>grad_avg</c>); none before the optimiser's first step.</item>
/// <item><c>rng/&lt;name&gt;</c> I64 [6]: a generator's four xoshiro256** words, the bits of its kept normal and
/// whether it has one (0 or 1).</item>
/// <item><c>__metadata__</c>: <c>format</c> = <c>rnn-simd.checkpoint</c>, <c>format_version</c> = <c>1</c>,
/// <c>step</c>, <c>parameters</c> (a JSON array of <c>{"name", "role"}</c> in declaration order),
/// <c>optimizer</c> and <c>optimizer.*</c> (kind, PyTorch-named hyperparameters, current <c>lr</c>,
/// <c>step_count</c>, <c>weight_decay_excluded</c> roles), <c>trainer.*</c> (counters and options),
/// <c>user.&lt;key&gt;</c> for the caller's strings, and <c>checksum</c>.</item>
/// </list>
/// <para>
/// <c>checksum</c> is <c>sha256:</c> and the hex SHA-256 of every other metadata entry (sorted by key), every tensor's
/// name, dtype, shape and byte range, and the whole data region. A truncated, bit-flipped or otherwise damaged file
/// is an <see cref="InvalidDataException"/> on load, never silently wrong weights. It guards against accidents, not
/// against someone who rewrites it.
/// </para>
/// <para>
/// Saving and loading hold the whole file in memory (the optimiser's state makes it two to four times the
/// parameters); gradients are not saved.
/// </para>
/// </remarks>
public static class Checkpoint
{
    /// <summary>The value of the <c>format</c> metadata key.</summary>
    public const string FormatName = "rnn-simd.checkpoint";

    /// <summary>The format version this library writes and reads.</summary>
    public const int FormatVersion = 1;

    internal const string ParameterPrefix = "param/";
    internal const string OptimizerPrefix = "optim/";
    internal const string GeneratorPrefix = "rng/";
    internal const string UserPrefix = "user.";
    internal const string UserTensorPrefix = "user/";
    internal const string FormatKey = "format";
    internal const string VersionKey = "format_version";
    internal const string ChecksumKey = "checksum";
    internal const string StepKey = "step";
    internal const string ParametersKey = "parameters";
    internal const string ArchitectureKey = "architecture";
    internal const string AppliedKey = "trainer.updates_applied";
    internal const string SkippedKey = "trainer.updates_skipped";
    internal const string MaxNormKey = "trainer.max_grad_norm";
    internal const string ClipValueKey = "trainer.clip_value";
    internal const string NonFiniteKey = "trainer.on_non_finite";
    internal const int GeneratorLength = 6;

    private const string ChecksumPrefix = "sha256:";

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> atomically: into a temporary file in the same
    /// directory, flushed to disk, then renamed over <paramref name="path"/>. A failure at any point leaves the old
    /// file (if any) untouched and removes the temporary one.
    /// </summary>
    /// <param name="path">The destination; its directory must exist.</param>
    /// <param name="content">What to save.</param>
    /// <exception cref="ArgumentException">A parameter is NaN or infinite (the run is broken; the last good checkpoint
    /// is kept), the optimiser or trainer belongs to another parameter set, a generator name is empty, or
    /// <see cref="CheckpointContent.Step"/> is negative.</exception>
    /// <exception cref="IOException">The file cannot be written (a full disk, a missing directory); the message names
    /// <paramref name="path"/> and the previous file there is unchanged.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory is read-only to this process; the message names
    /// <paramref name="path"/> and the previous file there is unchanged.</exception>
    /// <remarks>A process killed while saving (even by SIGKILL) leaves the previous checkpoint complete and at most a
    /// temporary file (<c>.NAME.*.tmp</c>) beside it, which no reader takes for a checkpoint.</remarks>
    public static void Save(string path, CheckpointContent content) => SaveCore(path, content, static s => s);

    /// <summary>Reads and checks the checkpoint at <paramref name="path"/>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The checkpoint, held in memory (the file is closed).</returns>
    /// <exception cref="InvalidDataException">The file is damaged (checksum mismatch, truncated, not safetensors), not
    /// a checkpoint, of a newer version, or inconsistent; the one-line message says which and names the file.</exception>
    /// <exception cref="IOException">The file cannot be read, or <paramref name="path"/> is a directory.</exception>
    public static LoadedCheckpoint Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            throw new IOException($"'{path}' is a directory, not a checkpoint file.");
        }

        return LoadedCheckpoint.Parse(File.ReadAllBytes(path), path);
    }

    /// <summary><see cref="Save"/> with the file stream wrapped, so tests can make the write fail midway.</summary>
    internal static void SaveCore(string path, CheckpointContent content, Func<Stream, Stream> wrap)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(content);
        SafeTensorsWriter writer = Build(content);
        using (var unsigned = new MemoryStream())
        {
            writer.WriteTo(unsigned);
            ReadOnlyMemory<byte> bytes = unsigned.GetBuffer().AsMemory(0, (int)unsigned.Length);
            writer.SetMetadata(ChecksumKey, Checksum(SafeTensorsFile.Load(bytes), bytes.Span));
        }

        writer.SaveCore(path, wrap);
    }

    /// <summary>
    /// <c>sha256:</c> + the hex SHA-256 of a parsed file's content apart from its <c>checksum</c> entry:
    /// <paramref name="bytes"/> is the whole file <paramref name="file"/> was parsed from.
    /// </summary>
    internal static string Checksum(SafeTensorsFile file, ReadOnlySpan<byte> bytes)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] number = new byte[8];
        void Text(string s)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(s);
            Number(utf8.Length);
            hash.AppendData(utf8);
        }

        void Number(long n)
        {
            BinaryPrimitives.WriteInt64LittleEndian(number, n);
            hash.AppendData(number);
        }

        foreach (KeyValuePair<string, string> pair in file.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (pair.Key != ChecksumKey)
            {
                Text(pair.Key);
                Text(pair.Value);
            }
        }

        foreach (SafeTensorsEntry entry in file.Tensors)
        {
            Text(entry.Name);
            Text(SafeTensorsDTypes.Name(entry.DType));
            Number(entry.Shape.Length);
            foreach (long d in entry.Shape)
            {
                Number(d);
            }

            Number(entry.DataOffset);
            Number(entry.ByteLength);
        }

        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        hash.AppendData(bytes[(int)dataStart..]);
        return ChecksumPrefix + Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    private static SafeTensorsWriter Build(CheckpointContent content)
    {
        ParameterSet set = content.Parameters ?? throw new ArgumentException("Parameters is required.", nameof(content));
        if (content.Step < 0)
        {
            ThrowHelper.Argument(nameof(content), $"Step must be non-negative, was {content.Step}.");
        }

        WeightPrecision precision = content.WeightPrecision;
        if (!Enum.IsDefined(precision))
        {
            ThrowHelper.Argument(nameof(content), $"Unknown weight precision {(int)precision}.");
        }

        if (precision != WeightPrecision.Float32 && (content.Optimizer is not null || content.Trainer is not null))
        {
            ThrowHelper.Argument(nameof(content), $"A {precision} checkpoint is an inference snapshot without the float32 master weights; save the optimiser and trainer in a Float32 checkpoint.");
        }

        Optimizer? optimizer = content.Optimizer;
        if (content.Trainer is { } trainer)
        {
            if (!ReferenceEquals(trainer.Parameters, set))
            {
                ThrowHelper.Argument(nameof(content), "The trainer updates another parameter set than Parameters.");
            }

            if (optimizer is not null && !ReferenceEquals(optimizer, trainer.Optimizer))
            {
                ThrowHelper.Argument(nameof(content), "Optimizer is not the trainer's optimiser; give one or the other.");
            }

            optimizer = trainer.Optimizer;
        }

        var writer = new SafeTensorsWriter();
        writer.SetMetadata(FormatKey, FormatName);
        writer.SetMetadata(VersionKey, FormatVersion.ToString(CultureInfo.InvariantCulture));
        writer.SetMetadata(StepKey, content.Step.ToString(CultureInfo.InvariantCulture));
        writer.SetMetadata(ParametersKey, DescribeParameters(set));
        if (content.Architecture is { } architecture)
        {
            writer.SetMetadata(ArchitectureKey, architecture.ToJson());
        }

        if (precision != WeightPrecision.Float32)
        {
            writer.SetMetadata(CheckpointPrecision.Key, CheckpointPrecision.Name(precision));
        }

        foreach (ParameterTensor t in set.Tensors)
        {
            ReadOnlySpan<float> values = set.Value(t);
            int bad = FirstNonFinite(values);
            if (bad >= 0)
            {
                ThrowHelper.Argument(nameof(content), string.Create(CultureInfo.InvariantCulture, $"Parameter '{t.Name}' holds {values[bad]} at index {bad}; a checkpoint of a broken run is refused (the last good one stays)."));
            }

            if (precision != WeightPrecision.Float32 && CheckpointPrecision.IsRecurrentMatrix(t.Name))
            {
                CheckpointPrecision.Add(writer, ParameterPrefix + t.Name, t.Name, values, Shape(t), precision);
            }
            else
            {
                writer.Add(ParameterPrefix + t.Name, values, Shape(t));
            }
        }

        if (optimizer is not null)
        {
            IReadOnlyList<(string Name, float[] Buffer)> state = optimizer.ExportState();
            if (state.Count > 0 || optimizer.StepCount > 0)
            {
                if (!optimizer.IsBoundTo(set))
                {
                    ThrowHelper.Argument(nameof(content), "The optimiser's state belongs to another parameter set than Parameters.");
                }
            }

            foreach (KeyValuePair<string, string> pair in CheckpointOptimizers.Describe(optimizer))
            {
                writer.SetMetadata(pair.Key, pair.Value);
            }

            foreach ((string name, float[] buffer) in state)
            {
                foreach (ParameterTensor t in set.Tensors)
                {
                    writer.Add($"{OptimizerPrefix}{name}/{t.Name}", buffer.AsSpan(t.Offset, t.Length), Shape(t));
                }
            }
        }

        if (content.Trainer is { } saved)
        {
            writer.SetMetadata(AppliedKey, saved.UpdatesApplied.ToString(CultureInfo.InvariantCulture));
            writer.SetMetadata(SkippedKey, saved.UpdatesSkipped.ToString(CultureInfo.InvariantCulture));
            writer.SetMetadata(NonFiniteKey, saved.Options.OnNonFiniteGradient.ToString());
            if (saved.Options.MaxGradientNorm is { } norm)
            {
                writer.SetMetadata(MaxNormKey, CheckpointOptimizers.Number(norm));
            }

            if (saved.Options.ClipValue is { } clip)
            {
                writer.SetMetadata(ClipValueKey, CheckpointOptimizers.Number(clip));
            }
        }

        foreach (KeyValuePair<string, DeterministicRandom> pair in content.Generators ?? new Dictionary<string, DeterministicRandom>())
        {
            if (string.IsNullOrEmpty(pair.Key) || pair.Value is null)
            {
                ThrowHelper.Argument(nameof(content), "Every generator needs a non-empty name and a value.");
            }

            DeterministicRandomState s = pair.Value.State;
            ReadOnlySpan<long> words =
            [
                (long)s.S0, (long)s.S1, (long)s.S2, (long)s.S3,
                BitConverter.DoubleToInt64Bits(s.SpareNormal.GetValueOrDefault()), s.SpareNormal.HasValue ? 1 : 0,
            ];
            writer.Add(GeneratorPrefix + pair.Key, words, GeneratorLength);
        }

        foreach (KeyValuePair<string, string> pair in content.Metadata ?? new Dictionary<string, string>())
        {
            writer.SetMetadata(UserPrefix + pair.Key, pair.Value);
        }

        foreach (KeyValuePair<string, float[]> pair in content.Tensors ?? new Dictionary<string, float[]>())
        {
            if (string.IsNullOrEmpty(pair.Key) || pair.Value is null || pair.Value.Length == 0)
            {
                ThrowHelper.Argument(nameof(content), "Every tensor needs a non-empty name and at least one value.");
            }

            int bad = FirstNonFinite(pair.Value);
            if (bad >= 0)
            {
                ThrowHelper.Argument(nameof(content), string.Create(CultureInfo.InvariantCulture, $"Tensor '{pair.Key}' holds {pair.Value[bad]} at index {bad}; a checkpoint of a broken run is refused (the last good one stays)."));
            }

            writer.Add(UserTensorPrefix + pair.Key, pair.Value, pair.Value.Length);
        }

        return writer;
    }

    private static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static long[] Shape(ParameterTensor t) => [.. t.Shape.Select(d => (long)d)];

    private static string DescribeParameters(ParameterSet set)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartArray();
            foreach (ParameterTensor t in set.Tensors)
            {
                writer.WriteStartObject();
                writer.WriteString("name", t.Name);
                writer.WriteString("role", t.Role.ToString());
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        return Encoding.UTF8.GetString(json.GetBuffer(), 0, (int)json.Length);
    }
}
