"""The log tail reads like a terminal's final screen: no escape codes, one line per progress bar,
repeated lines once, and the tail of a big file never starts with half a line."""
from __future__ import annotations

from jobs.logs import clean_log, tail

ULTRALYTICS = (
    "\x1b[34m\x1b[1mtrain: \x1b[0mScanning /data/labels... 8 images, 0 backgrounds, 0 corrupt: "
    "  0%|          | 0/8 [00:00<?, ?it/s]\r\x1b[34m\x1b[1mtrain: \x1b[0mScanning /data/labels... "
    "8 images, 0 backgrounds, 0 corrupt: 100%|██████████| 8/8 [00:00<00:00, 1234.56it/s]\n"
    "      Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size\n"
    "\r        1/3         0G      1.234      3.456      1.111         12        320:   0%|          "
    "| 0/2 [00:00<?, ?it/s]"
    "\r        1/3         0G      1.234      3.456      1.111         12        320:  50%|█████     "
    "| 1/2 [00:01<00:01,  1.02s/it]"
    "\r        1/3         0G      1.201      3.398      1.104         10        320: 100%|██████████"
    "| 2/2 [00:02<00:00,  1.01s/it]\x1b[K\r\n"
    "                 Class     Images  Instances      Box(P          R      mAP50  mAP50-95): "
    "100%|██████████| 1/1 [00:00<00:00,  4.20it/s]\r\n"
    "WARNING ⚠️ no labels found in val set\n"
    "WARNING ⚠️ no labels found in val set\n"
    "WARNING ⚠️ no labels found in val set\n"
    "\n\n\n"
    "\x1b]8;;https://docs.ultralytics.com\x1b\\docs\x1b]8;;\x1b\\ done\n"
)


def test_colours_bars_and_repeats_are_cleaned():
    lines = clean_log(ULTRALYTICS).split("\n")
    assert lines[0] == ("train: Scanning /data/labels... 8 images, 0 backgrounds, 0 corrupt: "
                        "100%|██████████| 8/8 [00:00<00:00, 1234.56it/s]")
    assert lines[1].strip().startswith("Epoch")
    assert lines[2].endswith("| 2/2 [00:02<00:00,  1.01s/it]") and "1.201" in lines[2]  # the bar's last state
    assert "mAP50-95" in lines[3] and lines[3].endswith("4.20it/s]")
    assert lines[4] == "WARNING ⚠️ no labels found in val set  [×3]"
    assert lines[5] == "" and lines[6] == "docs done"  # blank run shrinks to one; hyperlink kept as text
    assert len(lines) == 7
    assert "\x1b" not in "\n".join(lines) and "\r" not in "\n".join(lines)


def test_a_bar_ending_in_a_carriage_return_keeps_its_last_drawn_state():
    assert clean_log("loss 0.5\rloss 0.4\r\nnext\r") == "loss 0.4\nnext"


def test_tail_of_a_big_file_is_clean_and_starts_on_a_whole_line(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join(f"line {i} " + "x" * 50 + "\n" for i in range(5000)) + ULTRALYTICS)
    out = tail(log, lines=10, max_bytes=10_000)
    assert len(out.split("\n")) == 10
    assert out.split("\n")[-1] == "docs done" and "\x1b" not in out
    assert tail(log, lines=10_000, max_bytes=10_000).split("\n")[0].startswith("line ")  # no half line
    assert tail(tmp_path / "missing.log") == ""
