"""A PyTorch replica of the FID Inception network (pytorch-fid's fid_inception_v3(): the 2015 TF
Inception graph on torchvision's Inception3 layout; ../../../shared/specs/formats.md §3.2),
written from the architecture description, for the goldens of tests/cpu/test_inception.cpp.

Layout (names as torchvision's Inception3 state_dict, which pytorch-fid's weight file uses):
  Conv2d_1a_3x3 (3->32, s2), Conv2d_2a_3x3 (32->32), Conv2d_2b_3x3 (32->64, p1), maxpool 3/2,
  Conv2d_3b_1x1 (64->80), Conv2d_4a_3x3 (80->192), maxpool 3/2,
  Mixed_5b/5c/5d  InceptionA (pool features 32/64/64)       avg pool count_include_pad=False
  Mixed_6a        InceptionB                                 max pool 3/2 branch
  Mixed_6b-6e     InceptionC (7x7 channels 128/160/160/192)  avg pool count_include_pad=False
  Mixed_7a        InceptionD                                 max pool 3/2 branch
  Mixed_7b        InceptionE, avg pool count_include_pad=False (FIDInceptionE_1)
  Mixed_7c        InceptionE, max pool 3/1/1 (FIDInceptionE_2)
  global average -> pool3 [N, 2048] -> fc (2048 -> 1008)
BasicConv2d = conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU.
Input: bilinear resize to 299x299 (align_corners=False), then 2x - 1.

`div` divides every channel count (not the 3 input channels, not the classes) for small test
networks; div=1 is the real network.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg3(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64 // d, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48 // d, 1)
        self.branch5x5_2 = BasicConv2d(48 // d, 64 // d, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features // d, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        p = self.branch_pool(avg3(x))
        return torch.cat([a, b, c, p], 1)


class InceptionB(nn.Module):
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384 // d, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        p = F.max_pool2d(x, 3, stride=2)
        return torch.cat([a, b, p], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7, d):
        super().__init__()
        c7 //= d
        self.branch1x1 = BasicConv2d(cin, 192 // d, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192 // d, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192 // d, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = m(c)
        p = self.branch_pool(avg3(x))
        return torch.cat([a, b, c, p], 1)


class InceptionD(nn.Module):
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192 // d, 1)
        self.branch3x3_2 = BasicConv2d(192 // d, 320 // d, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192 // d, 1)
        self.branch7x7x3_2 = BasicConv2d(192 // d, 192 // d, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192 // d, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192 // d, 192 // d, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_1(x)
        for m in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b = m(b)
        p = F.max_pool2d(x, 3, stride=2)
        return torch.cat([a, b, p], 1)


class InceptionE(nn.Module):
    def __init__(self, cin, d, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320 // d, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384 // d, 1)
        self.branch3x3_2a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(448 // d, 384 // d, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192 // d, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        p = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else avg3(x)
        return torch.cat([a, b, c, self.branch_pool(p)], 1)


class FidInceptionV3(nn.Module):
    def __init__(self, div=1, num_classes=1008):
        super().__init__()
        d = div
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32 // d, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32 // d, 32 // d, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32 // d, 64 // d, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64 // d, 80 // d, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80 // d, 192 // d, 3)
        self.Mixed_5b = InceptionA(192 // d, 32, d)
        self.Mixed_5c = InceptionA(256 // d, 64, d)
        self.Mixed_5d = InceptionA(288 // d, 64, d)
        self.Mixed_6a = InceptionB(288 // d, d)
        self.Mixed_6b = InceptionC(768 // d, 128, d)
        self.Mixed_6c = InceptionC(768 // d, 160, d)
        self.Mixed_6d = InceptionC(768 // d, 160, d)
        self.Mixed_6e = InceptionC(768 // d, 192, d)
        self.Mixed_7a = InceptionD(768 // d, d)
        self.Mixed_7b = InceptionE(1280 // d, d, max_pool=False)
        self.Mixed_7c = InceptionE(2048 // d, d, max_pool=True)
        self.fc = nn.Linear(2048 // d, num_classes)

    def forward_blocks(self, x, resize=True):
        """Named outputs as FidInceptionV3::forward_blocks in eval/inception.h."""
        out = {}
        if resize:
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        out["input"] = x
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        out["Mixed_5d"] = x
        x = self.Mixed_6a(x)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        out["Mixed_6e"] = x
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        out["Mixed_7c"] = x
        pool3 = F.adaptive_avg_pool2d(x, 1).flatten(1)
        out["pool3"] = pool3
        out["logits"] = self.fc(pool3)
        return out
