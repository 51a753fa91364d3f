using System.Runtime.CompilerServices;
using Microsoft.ML;

namespace DeepArch.MLNet;

/// <summary>
/// ML.NET writes every ONNX model it loads to a file in <see cref="MLContext.TempFilePath"/>, and ONNX Runtime resolves a
/// model's external tensor data relative to that file's folder: in a shared folder such as <c>/tmp</c>, a crafted model
/// could read the files beside it and return their bytes in its scores. DeepArch points each <see cref="MLContext"/> it
/// loads with at a fresh, empty folder of its own (owner-only on Unix) under the context's previous temporary path,
/// where the only files are ML.NET's own, under random names, and deletes it when the process exits.
/// </summary>
internal static class PrivateTempFolder
{
    private static readonly ConditionalWeakTable<MLContext, string> Folders = new();
    private static readonly List<string> Created = [];

    static PrivateTempFolder() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();

    /// <summary>Points <paramref name="mlContext"/>'s temporary files at a private folder, unless they already go to one.</summary>
    public static void Apply(MLContext mlContext)
    {
        lock (Created)
        {
            if (Folders.TryGetValue(mlContext, out var current) && mlContext.TempFilePath == current && Directory.Exists(current))
            {
                return;
            }
            string parent = string.IsNullOrEmpty(mlContext.TempFilePath) ? Path.GetTempPath() : mlContext.TempFilePath;
            string folder = Path.Combine(parent, "deeparch-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)));
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            mlContext.TempFilePath = folder;
            Folders.AddOrUpdate(mlContext, folder);
            Created.Add(folder);
        }
    }

    private static void DeleteAll()
    {
        lock (Created)
        {
            foreach (string folder in Created)
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Best effort: a file still open elsewhere keeps the folder; the OS cleans its temporary folder.
                }
            }
            Created.Clear();
        }
    }
}
