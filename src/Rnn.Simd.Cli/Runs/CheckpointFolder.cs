using System.Globalization;
using Rnn.Simd.IO;

namespace Rnn.Simd.Cli.Runs;

/// <summary>
/// A run's checkpoints: <c>step-00001000.safetensors</c> files in one directory, each written atomically, the newest
/// <see cref="Keep"/> kept. A damaged newest file is reported with the path of the previous one, which still loads.
/// </summary>
internal sealed class CheckpointFolder(string directory, int keep)
{
    private const string Prefix = "step-", Suffix = ".safetensors";

    public string Directory { get; } = Path.GetFullPath(directory);

    public int Keep { get; } = keep;

    /// <summary>The checkpoints in the directory, oldest first.</summary>
    public static IReadOnlyList<string> List(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            return [];
        }

        var found = new List<(long Step, string Path)>();
        foreach (string path in System.IO.Directory.EnumerateFiles(directory, Prefix + "*" + Suffix))
        {
            string name = Path.GetFileName(path);
            if (long.TryParse(name.AsSpan(Prefix.Length, name.Length - Prefix.Length - Suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            {
                found.Add((step, path));
            }
        }

        return [.. found.OrderBy(f => f.Step).Select(f => f.Path)];
    }

    private bool _swept;

    /// <summary>Writes the checkpoint of update <paramref name="step"/> and deletes all but the newest <see cref="Keep"/>.</summary>
    /// <remarks>The first save also removes temporary files (<c>.step-*.tmp</c>) that a killed run left behind: they are
    /// never taken for checkpoints (<see cref="List"/> ignores them), only cleaned up.</remarks>
    public string Save(long step, CheckpointContent content)
    {
        System.IO.Directory.CreateDirectory(Directory);
        if (!_swept)
        {
            foreach (string stale in System.IO.Directory.EnumerateFiles(Directory, "." + Prefix + "*" + Suffix + ".*.tmp"))
            {
                File.Delete(stale);
            }

            _swept = true;
        }

        string path = Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"{Prefix}{step:D8}{Suffix}"));
        Checkpoint.Save(path, content);
        IReadOnlyList<string> all = List(Directory);
        for (int i = 0; i < all.Count - Keep; i++)
        {
            File.Delete(all[i]);
        }

        return path;
    }

    /// <summary>The path of the best checkpoint (by held-out loss), beside the newest ones and never deleted by them.</summary>
    public string BestPath => Path.Combine(Directory, BestName);

    /// <summary>The name of the best checkpoint in a run's directory.</summary>
    public const string BestName = "best.safetensors";

    /// <summary>Writes <see cref="BestPath"/> (atomically, as every checkpoint).</summary>
    public string SaveBest(CheckpointContent content)
    {
        System.IO.Directory.CreateDirectory(Directory);
        Checkpoint.Save(BestPath, content);
        return BestPath;
    }

    /// <summary>
    /// Opens a checkpoint file, or the newest checkpoint of a directory. A damaged file is an
    /// <see cref="InvalidDataException"/> that names the previous checkpoint of its directory, if any.
    /// </summary>
    public static LoadedCheckpoint Open(string fileOrDirectory)
    {
        string path = fileOrDirectory;
        if (System.IO.Directory.Exists(fileOrDirectory))
        {
            IReadOnlyList<string> all = List(fileOrDirectory);
            path = all.Count > 0 ? all[^1] : throw new FileNotFoundException($"No checkpoint (step-*.safetensors) in '{fileOrDirectory}'.");
        }
        else if (!File.Exists(fileOrDirectory))
        {
            throw new FileNotFoundException($"No checkpoint file or directory '{fileOrDirectory}'.");
        }

        try
        {
            return Checkpoint.Load(path);
        }
        catch (InvalidDataException e)
        {
            string? previous = List(Path.GetDirectoryName(Path.GetFullPath(path))!).LastOrDefault(p => string.CompareOrdinal(Path.GetFileName(p), Path.GetFileName(path)) < 0);
            string hint = previous is null ? "" : $"; the previous checkpoint is '{previous}' (pass it to --resume / --checkpoint)";
            throw new InvalidDataException($"{e.Message.TrimEnd('.')}{hint}.", e);
        }
    }
}
