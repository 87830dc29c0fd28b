#!/usr/bin/env python3
"""Generates src/index/text_data.c: the data tables of the full-text
tokenizer (src/index/text.c), which are facts, not code:

  * the ASCII-folding map Qdrant 1.19 applies with `ascii_folding: true`
    (Lucene's ASCIIFoldingFilter list as Qdrant carries it: one code point
    -> an ASCII string; anything not listed is kept);
  * the built-in stop-word lists of Qdrant's `Language` enum.

Qdrant's stop-word lists are the NLTK stopwords corpus (one snapshot of it).
The crates.io package `stop-words` ships that corpus as plain files under
src/nltk/; two of its releases together reproduce Qdrant's lists exactly
(checked word count and total size of each list against Qdrant's sources):

    cargo new /tmp/sw && cd /tmp/sw
    echo 'stop-words = { version = "=0.8.1", features = ["nltk"] }' >> Cargo.toml
    cargo fetch      # then edit the version to "=0.10.1" and fetch again
    python3 scripts/gen_text_data.py \\
        ~/.cargo/registry/src/*/stop-words-0.10.1/src/nltk \\
        ~/.cargo/registry/src/*/stop-words-0.8.1/src/nltk > src/index/text_data.c

English comes from the older release (Qdrant has the 179-word list, before
NLTK added "he'd", "i'm", ...), every other language from the newer one;
Qdrant adds "d" to Catalan and has its own Japanese list (below).  The
EXPECTED counts make a different corpus snapshot fail loudly.
"""
import os
import sys

# ---------------------------------------------------------------------------
# ASCII folding: replacement -> code points (hex).

FOLD = [
    ("A", "00C0 00C1 00C2 00C3 00C4 00C5 0100 0102 0104 01CD 01DE 01E0 01FA 0200 0202 0226 023A "
          "1D00 1E00 1EA0 1EA2 1EA4 1EA6 1EA8 1EAA 1EAC 1EAE 1EB0 1EB2 1EB4 1EB6 24B6 FF21"),
    ("a", "00E0 00E1 00E2 00E3 00E4 00E5 0101 0103 0105 01CE 01DF 01E1 01FB 0201 0203 0227 0250 "
          "0259 025A 1D8F 1D95 1E01 1E9A 1EA1 1EA3 1EA5 1EA7 1EA9 1EAB 1EAD 1EAF 1EB1 1EB3 1EB5 "
          "1EB7 2090 2094 24D0 2C65 2C6F FF41"),
    ("AA", "A732"), ("AE", "00C6 01E2 01FC 1D01"), ("AO", "A734"), ("AU", "A736"),
    ("AV", "A738 A73A"), ("AY", "A73C"), ("(a)", "249C"), ("aa", "A733"),
    ("ae", "00E6 01E3 01FD 1D02"), ("ao", "A735"), ("au", "A737"), ("av", "A739 A73B"),
    ("ay", "A73D"),
    ("B", "0181 0182 0243 0299 1D03 1E02 1E04 1E06 24B7 FF22"),
    ("b", "0180 0183 0253 1D6C 1D80 1E03 1E05 1E07 24D1 FF42"),
    ("(b)", "249D"),
    ("C", "00C7 0106 0108 010A 010C 0187 023B 0297 1D04 1E08 24B8 FF23"),
    ("c", "00E7 0107 0109 010B 010D 0188 023C 0255 1E09 2184 24D2 A73E A73F FF43"),
    ("(c)", "249E"),
    ("D", "00D0 010E 0110 0189 018A 018B 1D05 1D06 1E0A 1E0C 1E0E 1E10 1E12 24B9 A779 FF24"),
    ("d", "00F0 010F 0111 018C 0221 0256 0257 1D6D 1D81 1D91 1E0B 1E0D 1E0F 1E11 1E13 24D3 A77A "
          "FF44"),
    ("DZ", "01C4 01F1"), ("Dz", "01C5 01F2"), ("(d)", "249F"), ("db", "0238"),
    ("dz", "01C6 01F3 02A3 02A5"),
    ("E", "00C8 00C9 00CA 00CB 0112 0114 0116 0118 011A 018E 0190 0204 0206 0228 0246 1D07 1E14 "
          "1E16 1E18 1E1A 1E1C 1EB8 1EBA 1EBC 1EBE 1EC0 1EC2 1EC4 1EC6 24BA 2C7B FF25"),
    ("e", "00E8 00E9 00EA 00EB 0113 0115 0117 0119 011B 01DD 0205 0207 0229 0247 0258 025B 025C "
          "025D 025E 029A 1D08 1D92 1D93 1D94 1E15 1E17 1E19 1E1B 1E1D 1EB9 1EBB 1EBD 1EBF 1EC1 "
          "1EC3 1EC5 1EC7 2091 24D4 2C78 FF45"),
    ("(e)", "24A0"),
    ("F", "0191 1E1E 24BB A730 A77B A7FB FF26"),
    ("f", "0192 1D6E 1D82 1E1F 1E9B 24D5 A77C FF46"),
    ("(f)", "24A1"), ("ff", "FB00"), ("ffi", "FB03"), ("ffl", "FB04"), ("fi", "FB01"),
    ("fl", "FB02"),
    ("G", "011C 011E 0120 0122 0193 01E4 01E6 01F4 0262 029B 1E20 24BC A77D A77E FF27"),
    ("g", "011D 011F 0121 0123 01E5 01E7 01F5 0260 0261 1D77 1D79 1D83 1E21 24D6 A77F FF47"),
    ("(g)", "24A2"),
    ("H", "0124 0126 021E 029C 1E22 1E24 1E26 1E28 1E2A 24BD 2C67 2C75 FF28"),
    ("h", "0125 0127 021F 0265 0266 02AE 02AF 1E23 1E25 1E27 1E29 1E2B 1E96 24D7 2C68 2C76 FF48"),
    ("HV", "01F6"), ("(h)", "24A3"), ("hv", "0195"),
    ("I", "00CC 00CD 00CE 00CF 0128 012A 012C 012E 0130 0196 0197 01CF 0208 020A 026A 1D7B 1E2C "
          "1E2E 1EC8 1ECA 24BE A7FE FF29"),
    ("i", "00EC 00ED 00EE 00EF 0129 012B 012D 012F 0131 01D0 0209 020B 0268 1D09 1D62 1D7C 1D96 "
          "1E2D 1E2F 1EC9 1ECB 2071 24D8 FF49"),
    ("IJ", "0132"), ("(i)", "24A4"), ("ij", "0133"),
    ("J", "0134 0248 1D0A 24BF FF2A"),
    ("j", "0135 01F0 0237 0249 025F 0284 029D 24D9 2C7C FF4A"),
    ("(j)", "24A5"),
    ("K", "0136 0198 01E8 1D0B 1E30 1E32 1E34 24C0 2C69 A740 A742 A744 FF2B"),
    ("k", "0137 0199 01E9 029E 1D84 1E31 1E33 1E35 24DA 2C6A A741 A743 A745 FF4B"),
    ("(k)", "24A6"),
    ("L", "0139 013B 013D 013F 0141 023D 029F 1D0C 1E36 1E38 1E3A 1E3C 24C1 2C60 2C62 A746 A748 "
          "A780 FF2C"),
    ("l", "013A 013C 013E 0140 0142 019A 0234 026B 026C 026D 1D85 1E37 1E39 1E3B 1E3D 24DB 2C61 "
          "A747 A749 A781 FF4C"),
    ("LJ", "01C7"), ("LL", "1EFA"), ("Lj", "01C8"), ("(l)", "24A7"), ("lj", "01C9"),
    ("ll", "1EFB"), ("ls", "02AA"), ("lz", "02AB"),
    ("M", "019C 1D0D 1E3E 1E40 1E42 24C2 2C6E A7FD A7FF FF2D"),
    ("m", "026F 0270 0271 1D6F 1D86 1E3F 1E41 1E43 24DC FF4D"),
    ("(m)", "24A8"),
    ("N", "00D1 0143 0145 0147 014A 019D 01F8 0220 0274 1D0E 1E44 1E46 1E48 1E4A 24C3 FF2E"),
    ("n", "00F1 0144 0146 0148 0149 014B 019E 01F9 0235 0272 0273 1D70 1D87 1E45 1E47 1E49 1E4B "
          "207F 24DD FF4E"),
    ("NJ", "01CA"), ("Nj", "01CB"), ("(n)", "24A9"), ("nj", "01CC"),
    ("O", "00D2 00D3 00D4 00D5 00D6 00D8 014C 014E 0150 0186 019F 01A0 01D1 01EA 01EC 01FE 020C "
          "020E 022A 022C 022E 0230 1D0F 1D10 1E4C 1E4E 1E50 1E52 1ECC 1ECE 1ED0 1ED2 1ED4 1ED6 "
          "1ED8 1EDA 1EDC 1EDE 1EE0 1EE2 24C4 A74A A74C FF2F"),
    ("o", "00F2 00F3 00F4 00F5 00F6 00F8 014D 014F 0151 01A1 01D2 01EB 01ED 01FF 020D 020F 022B "
          "022D 022F 0231 0254 0275 1D16 1D17 1D97 1E4D 1E4F 1E51 1E53 1ECD 1ECF 1ED1 1ED3 1ED5 "
          "1ED7 1ED9 1EDB 1EDD 1EDF 1EE1 1EE3 2092 24DE 2C7A A74B A74D FF4F"),
    ("OE", "0152 0276"), ("OO", "A74E"), ("OU", "0222 1D15"), ("(o)", "24AA"),
    ("oe", "0153 1D14"), ("oo", "A74F"), ("ou", "0223"),
    ("P", "01A4 1D18 1E54 1E56 24C5 2C63 A750 A752 A754 FF30"),
    ("p", "01A5 1D71 1D7D 1D88 1E55 1E57 24DF A751 A753 A755 A7FC FF50"),
    ("(p)", "24AB"),
    ("Q", "024A 24C6 A756 A758 FF31"),
    ("q", "0138 024B 02A0 24E0 A757 A759 FF51"),
    ("(q)", "24AC"), ("qp", "0239"),
    ("R", "0154 0156 0158 0210 0212 024C 0280 0281 1D19 1D1A 1E58 1E5A 1E5C 1E5E 24C7 2C64 A75A "
          "A782 FF32"),
    ("r", "0155 0157 0159 0211 0213 024D 027C 027D 027E 027F 1D63 1D72 1D73 1D89 1E59 1E5B 1E5D "
          "1E5F 24E1 A75B A783 FF52"),
    ("(r)", "24AD"),
    ("S", "015A 015C 015E 0160 0218 1E60 1E62 1E64 1E66 1E68 24C8 A731 A785 FF33"),
    ("s", "015B 015D 015F 0161 017F 0219 023F 0282 1D74 1D8A 1E61 1E63 1E65 1E67 1E69 1E9C 1E9D "
          "24E2 A784 FF53"),
    ("SS", "1E9E"), ("(s)", "24AE"), ("ss", "00DF"), ("st", "FB06"),
    ("T", "0162 0164 0166 01AC 01AE 021A 023E 1D1B 1E6A 1E6C 1E6E 1E70 24C9 A786 FF34"),
    ("t", "0163 0165 0167 01AB 01AD 021B 0236 0287 0288 1D75 1E6B 1E6D 1E6F 1E71 1E97 24E3 2C66 "
          "FF54"),
    ("TH", "00DE A766"), ("TZ", "A728"), ("(t)", "24AF"), ("tc", "02A8"),
    ("th", "00FE 1D7A A767"), ("ts", "02A6"), ("tz", "A729"),
    ("U", "00D9 00DA 00DB 00DC 0168 016A 016C 016E 0170 0172 01AF 01D3 01D5 01D7 01D9 01DB 0214 "
          "0216 0244 1D1C 1D7E 1E72 1E74 1E76 1E78 1E7A 1EE4 1EE6 1EE8 1EEA 1EEC 1EEE 1EF0 24CA "
          "FF35"),
    ("u", "00F9 00FA 00FB 00FC 0169 016B 016D 016F 0171 0173 01B0 01D4 01D6 01D8 01DA 01DC 0215 "
          "0217 0289 1D64 1D99 1E73 1E75 1E77 1E79 1E7B 1EE5 1EE7 1EE9 1EEB 1EED 1EEF 1EF1 24E4 "
          "FF55"),
    ("(u)", "24B0"), ("ue", "1D6B"),
    ("V", "01B2 0245 1D20 1E7C 1E7E 1EFC 24CB A75E A768 FF36"),
    ("v", "028B 028C 1D65 1D8C 1E7D 1E7F 24E5 2C71 2C74 A75F FF56"),
    ("VY", "A760"), ("(v)", "24B1"), ("vy", "A761"),
    ("W", "0174 01F7 1D21 1E80 1E82 1E84 1E86 1E88 24CC 2C72 FF37"),
    ("w", "0175 01BF 028D 1E81 1E83 1E85 1E87 1E89 1E98 24E6 2C73 FF57"),
    ("(w)", "24B2"),
    ("X", "1E8A 1E8C 24CD FF38"),
    ("x", "1D8D 1E8B 1E8D 2093 24E7 FF58"),
    ("(x)", "24B3"),
    ("Y", "00DD 0176 0178 01B3 0232 024E 028F 1E8E 1EF2 1EF4 1EF6 1EF8 1EFE 24CE FF39"),
    ("y", "00FD 00FF 0177 01B4 0233 024F 028E 1E8F 1E99 1EF3 1EF5 1EF7 1EF9 1EFF 24E8 FF59"),
    ("(y)", "24B4"),
    ("Z", "0179 017B 017D 01B5 021C 0224 1D22 1E90 1E92 1E94 24CF 2C6B A762 FF3A"),
    ("z", "017A 017C 017E 01B6 021D 0225 0240 0290 0291 1D76 1D8E 1E91 1E93 1E95 24E9 2C6C A763 "
          "FF5A"),
    ("(z)", "24B5"),
    # digits, circled and parenthesized numbers
    ("0", "2070 2080 24EA 24FF FF10"),
    ("1", "00B9 2081 2460 24F5 2776 2780 278A FF11"),
    ("2", "00B2 2082 2461 24F6 2777 2781 278B FF12"),
    ("3", "00B3 2083 2462 24F7 2778 2782 278C FF13"),
    ("4", "2074 2084 2463 24F8 2779 2783 278D FF14"),
    ("5", "2075 2085 2464 24F9 277A 2784 278E FF15"),
    ("6", "2076 2086 2465 24FA 277B 2785 278F FF16"),
    ("7", "2077 2087 2466 24FB 277C 2786 2790 FF17"),
    ("8", "2078 2088 2467 24FC 277D 2787 2791 FF18"),
    ("9", "2079 2089 2468 24FD 277E 2788 2792 FF19"),
    ("10", "2469 24FE 277F 2789 2793"),
    # quotes, dashes, brackets and other punctuation
    ('"', "00AB 00BB 201C 201D 201E 2033 2036 275D 275E 276E 276F FF02"),
    ("'", "2018 2019 201A 201B 2032 2035 2039 203A 275B 275C FF07"),
    ("-", "2010 2011 2012 2013 2014 207B 208B FF0D"),
    ("[", "2045 2772 FF3B"), ("]", "2046 2773 FF3D"),
    ("(", "207D 208D 2768 276A FF08"), ("((", "2E28"),
    (")", "207E 208E 2769 276B FF09"), ("))", "2E29"),
    ("<", "276C 2770 FF1C"), (">", "276D 2771 FF1E"),
    ("{", "2774 FF5B"), ("}", "2775 FF5D"),
    ("+", "207A 208A FF0B"), ("=", "207C 208C FF1D"),
    ("!", "FF01"), ("!!", "203C"), ("!?", "2049"), ("#", "FF03"), ("$", "FF04"),
    ("%", "2052 FF05"), ("&", "FF06"), ("*", "204E FF0A"), (",", "FF0C"), (".", "FF0E"),
    ("/", "2044 FF0F"), (":", "FF1A"), (";", "204F FF1B"), ("?", "FF1F"), ("??", "2047"),
    ("?!", "2048"), ("@", "FF20"), ("\\", "FF3C"), ("^", "2038 FF3E"), ("_", "FF3F"),
    ("~", "2053 FF5E"),
]
# "1." .. "20." (U+2488..249B) and "(1)" .. "(20)" (U+2474..2487);
# 11 .. 20 circled (U+246A..2473) and negative circled (U+24EB..24F4).
for n in range(1, 21):
    FOLD.append(("%d." % n, "%04X" % (0x2488 + n - 1)))
    FOLD.append(("(%d)" % n, "%04X" % (0x2474 + n - 1)))
    if n >= 11:
        FOLD.append(("%d" % n, "%04X %04X" % (0x246A + n - 11, 0x24EB + n - 11)))

# ---------------------------------------------------------------------------
# Stop words: Qdrant's Language enum, in its order, with list sizes.

LANGUAGES = [
    ("arabic", 754), ("azerbaijani", 165), ("basque", 326), ("bengali", 398),
    ("catalan", 279), ("chinese", 841), ("danish", 94), ("dutch", 101), ("english", 179),
    ("finnish", 235), ("french", 157), ("german", 232), ("greek", 265), ("hebrew", 221),
    ("hinglish", 1036), ("hungarian", 199), ("indonesian", 758), ("italian", 279),
    ("japanese", 149), ("kazakh", 324), ("nepali", 255), ("norwegian", 176),
    ("portuguese", 207), ("romanian", 356), ("russian", 151), ("slovene", 1784),
    ("spanish", 313), ("swedish", 114), ("tajik", 163), ("turkish", 53),
]

# Qdrant's Japanese list (stopwords-iso's, trimmed, plus tokenizer outputs).
JAPANESE = """
あそこ あっ あの あのかた あの人 あり あります ある あれ い いう いっ います いる う うち え お おい
おけ および おり おります か かた かつて から が き ここ こちら こと この これ これら さ さらに し
しかし する ず せ せる そこ そして その その他 その後 それ それぞれ それで た ただし たち ため たり
だ だっ だれ つ つい て で でき できる です では でも と という といった とき ところ として とともに
とも と共に どこ どの な ない なお なかっ ながら なっ など なに なら なり なる なん に において
における について にて によって により による に対して に対する に関する の ので のみ は ば へ ほか
ほとんど ほど ます また または まで も もの ものの や よう よっ より よる ら られ られる る れ れる を
ん 人 他 何 共 及び 対し 対する 彼 後 我々 方 特に 私 私達 貴方 貴方方 達 関する
""".split()


def read_list(path):
    with open(path, encoding="utf-8") as f:
        return [w for w in f.read().split("\n") if w.strip() != ""]


def stop_lists(new_dir, old_dir):
    out = []
    for lang, expected in LANGUAGES:
        if lang == "japanese":
            words = JAPANESE
        elif lang == "english":
            words = read_list(os.path.join(old_dir, "english"))
        else:
            words = read_list(os.path.join(new_dir, "slovenian" if lang == "slovene" else lang))
            if lang == "catalan":
                words.insert(words.index("durant") + 1, "d")
        if len(words) != expected:
            sys.exit("%s: %d words, Qdrant has %d" % (lang, len(words), expected))
        out.append((lang, words))
    return out


def c_str(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "?":
            out.append("\\?")  # no trigraphs
        elif ord(ch) < 0x20:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    fold = {}
    for repl, cps in FOLD:
        for cp in cps.split():
            cp = int(cp, 16)
            if cp in fold:
                sys.exit("U+%04X listed twice" % cp)
            fold[cp] = repl
    lists = stop_lists(sys.argv[1], sys.argv[2])

    w = sys.stdout.write
    w("/*\n * text_data.c - data tables of the full-text tokenizer (see text_data.h).\n"
      " *\n * GENERATED by scripts/gen_text_data.py: do not edit; regenerate instead.\n"
      " * Facts reproduced as data: Qdrant 1.19's ASCII-folding map (Lucene's\n"
      " * ASCIIFoldingFilter list) and its built-in stop-word lists (the NLTK\n"
      " * stopwords corpus); the script says where each comes from.\n */\n")
    w('#include "index/text_data.h"\n\n// clang-format off\n')
    w("const qv_text_fold qv_text_fold_table[] = {\n")
    for cp in sorted(fold):
        w("    {0x%04X, %s},\n" % (cp, c_str(fold[cp])))
    w("};\nconst size_t qv_text_fold_count = sizeof qv_text_fold_table / sizeof *qv_text_fold_table;\n\n")
    for lang, words in lists:
        w("static const char *const sw_%s[] = {\n" % lang)
        line = "   "
        for word in words:
            item = " " + c_str(word) + ","
            if len(line) + len(item) > 96:
                w(line + "\n")
                line = "   "
            line += item
        w(line + "\n};\n")
    w("\nconst qv_text_stoplist qv_text_stoplists[] = {\n")
    for lang, words in lists:
        w('    {"%s", sw_%s, %d},\n' % (lang, lang, len(words)))
    w("};\nconst size_t qv_text_nstoplists = sizeof qv_text_stoplists / sizeof *qv_text_stoplists;\n")
    w("// clang-format on\n")


if __name__ == "__main__":
    main()
