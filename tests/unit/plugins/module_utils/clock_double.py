"""Test double for time.monotonic and time.sleep: time moves only when the
fake sleep is called, so wait loops are tested without waiting."""


class FakeClock(object):
    def __init__(self, start=0.0):
        self.now = start
        self.sleeps = []

    def __call__(self):
        return self.now

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
