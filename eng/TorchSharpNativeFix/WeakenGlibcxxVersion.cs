// Inline MSBuild task (RoslynCodeTaskFactory, Type="Class"); see TorchSharpNativeFix.targets and README.md.
//
// TorchSharp 0.107.0's libLibTorchSharp.so requires the symbol version GLIBCXX_3.4.32 (GCC 13+), used by a
// single symbol (_ZSt21ios_base_library_initv) that is referenced but never called. Older distributions
// (e.g. Debian 12, GLIBCXX_3.4.30) then fail to dlopen it. Setting VER_FLG_WEAK on that version requirement
// makes the dynamic loader accept its absence. Only build/publish OUTPUT copies are patched, never the
// NuGet cache: the patched bytes go to a new file that is renamed over the output file.
//
// Compiled against the netstandard reference assemblies MSBuild ships, so only netstandard 2.0 APIs are used.
#nullable enable
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenGlibcxxVersion : Task
{
    const uint SHT_GNU_verneed = 0x6ffffffe; // section type of .gnu.version_r (version requirements)
    const ushort VER_FLG_WEAK = 0x2;         // vna_flags bit: "weak" version reference, absence is not fatal

    static readonly string[] LibDirs =
        { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib64" };

    /// <summary>The libLibTorchSharp.so files (output copies) to patch.</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version requirement to weaken.</summary>
    public string VersionName { get; set; } = "GLIBCXX_3.4.32";

    /// <summary>Patch even when not on Linux or when the system libstdc++ already provides VersionName.</summary>
    public bool Force { get; set; }

    public override bool Execute()
    {
        if (!Force)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
            {
                Log.LogMessage(MessageImportance.Low, "TorchSharpNativeFix: not Linux, nothing to do.");
                return true;
            }
            string? libstdcxx = FindSystemLibStdCxx();
            if (libstdcxx != null && IndexOf(File.ReadAllBytes(libstdcxx), CString(VersionName), 0) >= 0)
            {
                Log.LogMessage(MessageImportance.Low, $"TorchSharpNativeFix: {libstdcxx} provides {VersionName}, nothing to do.");
                return true;
            }
        }
        foreach (ITaskItem item in Files)
        {
            string path = Path.GetFullPath(item.ItemSpec);
            try { Patch(path); }
            catch (InvalidDataException e) { Log.LogError($"TorchSharpNativeFix: {path} is not a valid ELF64 little-endian file: {e.Message}"); }
            catch (IOException e) { Log.LogError($"TorchSharpNativeFix: cannot patch {path}: {e.Message}"); }
            catch (UnauthorizedAccessException e) { Log.LogError($"TorchSharpNativeFix: cannot patch {path}: {e.Message}"); }
        }
        return !Log.HasLoggedErrors;
    }

    void Patch(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        long flagsOffset = FindVernauxFlags(elf, VersionName);
        if (flagsOffset < 0)
        {
            Log.LogMessage(MessageImportance.Low, $"TorchSharpNativeFix: {path} does not require {VersionName}.");
            return;
        }
        ushort flags = U16(elf, flagsOffset);
        if ((flags & VER_FLG_WEAK) != 0)
        {
            Log.LogMessage(MessageImportance.Low, $"TorchSharpNativeFix: {path} already has {VersionName} weak.");
            return;
        }
        // Copy (keeps the file mode) to a sibling temp file, patch the two flag bytes there, then rename it over
        // the original. If the output file was a hard link to the NuGet cache, the link is replaced, not modified.
        string temp = path + ".deeparch-tmp";
        File.Copy(path, temp, overwrite: true);
        try
        {
            using (var stream = new FileStream(temp, FileMode.Open, FileAccess.Write))
            {
                stream.Position = flagsOffset;
                ushort weak = (ushort)(flags | VER_FLG_WEAK);
                stream.Write(new[] { (byte)weak, (byte)(weak >> 8) }, 0, 2);
            }
            File.Replace(temp, path, null); // rename(2) on Unix: atomic
        }
        finally { if (File.Exists(temp)) File.Delete(temp); }
        Log.LogMessage(MessageImportance.Normal, $"TorchSharpNativeFix: marked {VersionName} as weak in {path}.");
    }

    /// <summary>File offset of vna_flags of the Vernaux entry named <paramref name="version"/>, or -1.</summary>
    static long FindVernauxFlags(byte[] elf, string version)
    {
        // Elf64_Ehdr: e_ident[16] ("\x7fELF", EI_CLASS=2 for 64-bit, EI_DATA=1 for little-endian), then
        // e_shoff (u64 @0x28), e_shentsize (u16 @0x3A), e_shnum (u16 @0x3C).
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F')
            throw new InvalidDataException("missing ELF magic");
        if (elf[4] != 2 || elf[5] != 1) throw new InvalidDataException("not ELFCLASS64 / ELFDATA2LSB");
        long shoff = Offset(elf, U64(elf, 0x28));
        int shentsize = U16(elf, 0x3A);
        long shnum = U16(elf, 0x3C);
        if (shoff == 0) return -1; // no section headers
        if (shentsize < 64) throw new InvalidDataException($"e_shentsize {shentsize} < 64");
        if (shnum == 0) shnum = (long)U64(elf, shoff + 0x20); // >= 0xff00 sections: count is in section 0's sh_size
        if (shnum > (elf.Length - shoff) / shentsize) throw new InvalidDataException("section headers beyond end of file");

        // Elf64_Shdr: sh_type (u32 @0x04), sh_offset (u64 @0x18), sh_size (u64 @0x20), sh_link (u32 @0x28),
        // sh_info (u32 @0x2C). For SHT_GNU_verneed, sh_link is the string table section, sh_info the entry count.
        for (long i = 0; i < shnum; i++)
        {
            long sh = shoff + i * shentsize;
            if (U32(elf, sh + 0x04) != SHT_GNU_verneed) continue;
            (long start, long end) = SectionRange(elf, sh);
            uint link = U32(elf, sh + 0x28);
            if (link >= shnum) throw new InvalidDataException($"verneed sh_link {link} out of range");
            (long strStart, long strEnd) = SectionRange(elf, shoff + link * shentsize);

            // Elf64_Verneed (16 bytes): vn_version u16, vn_cnt u16, vn_file u32 (library name), vn_aux u32
            // (offset of first Vernaux, relative to this entry), vn_next u32 (offset of next Verneed, 0 = last).
            long vn = start;
            for (uint n = U32(elf, sh + 0x2C); n > 0; n--)
            {
                Check(vn, 16, start, end);
                // Elf64_Vernaux (16 bytes): vna_hash u32, vna_flags u16, vna_other u16 (index used in .gnu.version),
                // vna_name u32 (string table offset), vna_next u32 (offset of next Vernaux, 0 = last).
                long vna = vn + U32(elf, vn + 8);
                for (int a = U16(elf, vn + 2); a > 0; a--)
                {
                    Check(vna, 16, start, end);
                    if (ReadString(elf, strStart + U32(elf, vna + 8), strEnd) == version) return vna + 4;
                    uint next = U32(elf, vna + 12);
                    if (next == 0) break;
                    vna += next;
                }
                uint vnNext = U32(elf, vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return -1;
    }

    static (long Start, long End) SectionRange(byte[] elf, long sh)
    {
        long start = Offset(elf, U64(elf, sh + 0x18));
        ulong size = U64(elf, sh + 0x20);
        if (size > (ulong)(elf.Length - start)) throw new InvalidDataException($"section at 0x{start:x} runs past end of file");
        return (start, start + (long)size);
    }

    static long Offset(byte[] elf, ulong value) =>
        value <= (ulong)elf.Length ? (long)value : throw new InvalidDataException($"offset 0x{value:x} beyond end of file");

    static void Check(long pos, long size, long start, long end)
    {
        if (pos < start || pos + size > end) throw new InvalidDataException($"entry at 0x{pos:x} outside its section");
    }

    static string ReadString(byte[] elf, long pos, long end)
    {
        long nul = pos;
        while (nul < end && elf[nul] != 0) nul++;
        if (nul >= end) throw new InvalidDataException($"unterminated string at 0x{pos:x}");
        return Encoding.ASCII.GetString(elf, (int)pos, (int)(nul - pos));
    }

    static void Need(byte[] b, long pos, int size)
    {
        if (pos < 0 || pos + size > b.Length) throw new InvalidDataException($"read of {size} bytes at 0x{pos:x} beyond end of file");
    }
    static ushort U16(byte[] b, long p) { Need(b, p, 2); return (ushort)(b[p] | b[p + 1] << 8); }
    static uint U32(byte[] b, long p) { Need(b, p, 4); return (uint)(U16(b, p) | U16(b, p + 2) << 16); }
    static ulong U64(byte[] b, long p) { Need(b, p, 8); return U32(b, p) | (ulong)U32(b, p + 4) << 32; }

    static byte[] CString(string s) => Encoding.ASCII.GetBytes(s + "\0");

    static int IndexOf(byte[] haystack, byte[] needle, int from)
    {
        for (int i = Array.IndexOf(haystack, needle[0], from); i >= 0 && i <= haystack.Length - needle.Length;
             i = Array.IndexOf(haystack, needle[0], i + 1))
        {
            int k = 1;
            while (k < needle.Length && haystack[i + k] == needle[k]) k++;
            if (k == needle.Length) return i;
        }
        return -1;
    }

    static string? FindSystemLibStdCxx()
    {
        foreach (string dir in LibDirs)
        {
            string candidate = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
