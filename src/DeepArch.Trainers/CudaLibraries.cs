namespace DeepArch.Trainers;

/// <summary>
/// The CUDA runtime libraries a process has loaded, read from <c>/proc/self/maps</c>, so that a process that would mix two
/// CUDA majors (libtorch built for CUDA 12 beside ONNX Runtime's CUDA 13 build, say) fails at its first CUDA use with an
/// error that names both, instead of crashing or computing garbage later. Linux only; elsewhere nothing is reported.
/// </summary>
internal static class CudaLibraries
{
    /// <summary>The libraries whose major version is the CUDA major they belong to (cuDNN's is its own, so it is not read).</summary>
    private static readonly string[] Versioned = ["libcudart.so.", "libcublas.so.", "libcublasLt.so."];

    /// <summary>A loaded CUDA library: its name without the version (<c>libcudart.so</c>), its major version, and its file.</summary>
    internal readonly record struct Loaded(string Library, int Major, string Path);

    /// <summary>The versioned CUDA libraries mapped in <paramref name="maps"/> (the text of <c>/proc/PID/maps</c>), each file once.</summary>
    internal static IReadOnlyList<Loaded> Parse(string maps)
    {
        var found = new List<Loaded>();
        foreach (string line in maps.Split('\n'))
        {
            int slash = line.IndexOf('/');
            if (slash < 0)
            {
                continue;
            }
            string path = line[slash..].Trim();
            string file = System.IO.Path.GetFileName(path);
            foreach (string prefix in Versioned)
            {
                if (!file.StartsWith(prefix, StringComparison.Ordinal))
                {
                    continue;
                }
                string version = file[prefix.Length..];
                int end = version.IndexOf('.');
                if (int.TryParse(end < 0 ? version : version[..end], out int major) && !found.Any(f => f.Path == path))
                {
                    found.Add(new Loaded(prefix[..^1], major, path));
                }
            }
        }
        return found;
    }

    /// <summary>The versioned CUDA libraries this process has loaded; empty where <c>/proc/self/maps</c> does not exist.</summary>
    internal static IReadOnlyList<Loaded> InThisProcess()
    {
        try
        {
            return File.Exists("/proc/self/maps") ? Parse(File.ReadAllText("/proc/self/maps")) : [];
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>Null when the loaded CUDA libraries agree on one major; else what is mixed, naming each major's file.</summary>
    internal static string? MixedMajors(IReadOnlyList<Loaded> loaded)
    {
        foreach (var library in loaded.GroupBy(l => l.Library))
        {
            var majors = library.GroupBy(l => l.Major).OrderBy(g => g.Key).ToList();
            if (majors.Count > 1)
            {
                return $"this process has loaded two CUDA majors: {string.Join(" and ", majors.Select(m => $"{library.Key}.{m.Key} ({m.First().Path})"))}";
            }
        }
        return null;
    }

    /// <summary>Null when no loaded CUDA library has another major than <paramref name="major"/>; else which one, with its file.</summary>
    internal static string? OtherMajorThan(int major, IReadOnlyList<Loaded> loaded)
        => loaded.FirstOrDefault(l => l.Major != major) is { Library: not null } other
            ? $"{other.Library}.{other.Major} is already loaded ({other.Path})"
            : null;
}
