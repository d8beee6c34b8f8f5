"""Ship acme_plugin.pth at the top of the wheel (the purelib root).

setuptools only puts packages and their data into a wheel. To get a file into
site-packages itself, build_py copies it to the root of build_lib, which is
what bdist_wheel packs. MANIFEST.in brings the file into the sdist.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_FILE = "acme_plugin.pth"


class build_py_with_pth(build_py):
    def run(self):
        super().run()
        self.copy_file(PTH_FILE, os.path.join(self.build_lib, PTH_FILE), preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        outputs = super().get_outputs(include_bytecode=include_bytecode)
        return outputs + [os.path.join(self.build_lib, PTH_FILE)]


setup(cmdclass={"build_py": build_py_with_pth})
